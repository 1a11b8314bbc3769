#include "number_format.hpp"

#include <cassert>
#include <cmath>

namespace mpq {

const FloatFormatTraits& NumberFormat::float_traits() const {
  assert(is_float());
  for (const auto& t : kFloatFormats)
    if (t.kind == kind) return t;
  assert(false && "missing float format row");
  return kFloatFormats.back();
}

std::string NumberFormat::name() const {
  if (is_int()) return "int" + std::to_string(bits);
  return float_traits().name;
}

double NumberFormat::effective_bits() const {
  return is_int() ? static_cast<double>(bits) : bits * std::sqrt(1.5);
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
  if (text == "float") return NumberFormat{};
  for (const auto& t : kFloatFormats)
    if (text == t.name) return NumberFormat{t.kind, t.bits};
  return make_error("unknown number format '" + std::string(text) +
                    "' (expected int2..int16, fp16, bf16, fp8e4m3, fp8e5m2 or fp32)");
}

}  // namespace mpq
