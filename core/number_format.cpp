#include "number_format.hpp"

#include <cassert>
#include <cmath>

namespace mpq {
namespace {

// "int4_g128" -> (4, 128); nullopt when the text is not of that shape.
Result<NumberFormat> parse_int_group(std::string_view text) {
  const auto g = text.find("_g");
  const std::string_view b = text.substr(3, g - 3), n = text.substr(g + 2);
  const auto all_digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 4 && s.find_first_not_of("0123456789") == s.npos;
  };
  if (!all_digits(b) || !all_digits(n))
    return make_error("format '" + std::string(text) + "': expected int<bits>_g<group>");
  const int bits = std::stoi(std::string(b)), group = std::stoi(std::string(n));
  if (bits < kMinIntBits || bits > kMaxIntBits)
    return make_error("format '" + std::string(text) + "': integer bit-width " +
                      std::to_string(bits) + " is outside " + std::to_string(kMinIntBits) + ".." +
                      std::to_string(kMaxIntBits));
  if (group < kMinGroup || group > kMaxGroup || (group & (group - 1)) != 0)
    return make_error("format '" + std::string(text) + "': group " + std::to_string(group) +
                      " is not a power of two in " + std::to_string(kMinGroup) + ".." +
                      std::to_string(kMaxGroup));
  return NumberFormat{FormatKind::IntGroup, bits, group};
}

}  // namespace

const FloatFormatTraits& NumberFormat::float_traits() const {
  assert(is_float());
  for (const auto& t : kFloatFormats)
    if (t.kind == kind) return t;
  assert(false && "missing float format row");
  return kFloatFormats.back();
}

const BlockFormatTraits& NumberFormat::block_traits() const {
  assert(is_block());
  for (const auto& t : kBlockFormats)
    if (t.kind == kind) return t;
  assert(false && "missing block format row");
  return kBlockFormats.back();
}

std::string NumberFormat::name() const {
  if (is_int()) return "int" + std::to_string(bits);
  if (kind == FormatKind::IntGroup) {
    std::string s = "int" + std::to_string(bits);
    s.append("_g");
    s.append(std::to_string(block));
    return s;
  }
  if (is_block()) return block_traits().name;
  return float_traits().name;
}

double NumberFormat::storage_bits() const {
  if (!is_block()) return bits;
  return bits + static_cast<double>(block_traits().scale_bits) / block;
}

double NumberFormat::effective_bits() const {
  if (is_int()) return bits;
  if (!is_block()) return bits * std::sqrt(1.5);
  const BlockFormatTraits& t = block_traits();
  const double element = t.integer_elements ? bits : bits * std::sqrt(1.5);
  return element + static_cast<double>(t.scale_bits) / block;
}

Result<NumberFormat> parse_format(std::string_view text) {
  std::string_view digits = text;
  if (digits.substr(0, 3) == "int") digits.remove_prefix(3);
  if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos &&
      digits.size() <= 3) {
    const int bits = std::stoi(std::string(digits));
    if (bits < kMinIntBits || bits > kMaxIntBits)
      return make_error("format '" + std::string(text) + "': integer bit-width " +
                        std::to_string(bits) + " is outside " + std::to_string(kMinIntBits) + ".." +
                        std::to_string(kMaxIntBits));
    return NumberFormat::integer(bits);
  }
  if (text.substr(0, 3) == "int" && text.find("_g") != std::string_view::npos)
    return parse_int_group(text);
  if (text == "float") return NumberFormat{};
  for (const auto& t : kFloatFormats)
    if (text == t.name) return NumberFormat{t.kind, t.bits};
  for (const auto& t : kBlockFormats)
    if (t.kind != FormatKind::IntGroup && text == t.name)
      return NumberFormat{t.kind, t.element_bits, t.block};
  return make_error("unknown number format '" + std::string(text) +
                    "' (expected int2..int16, fp16, bf16, fp8e4m3, fp8e5m2, fp32, mxfp8_e4m3, "
                    "mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, mxint8, nvfp4 or "
                    "int<bits>_g<group>)");
}

}  // namespace mpq
