#include "number_format.hpp"

#include <bit>
#include <cassert>
#include <cmath>
#include <limits>

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

std::string Candidate::name() const {
  auto part = [](const NumberFormat& f) {
    return f.is_int() ? std::to_string(f.bits) : std::string(f.float_traits().name);
  };
  if (weight == activation && weight.is_float()) return part(weight);
  // Appended piecewise: GCC 12 warns (-Wrestrict, falsely) on the chained operator+.
  std::string s = "W";
  s.append(part(weight));
  s.push_back('A');
  s.append(part(activation));
  return s;
}

Result<Candidate> parse_candidate(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return make_error("candidate '" + std::string(text) + "': " + why +
                      " (expected W<w>A<a> such as W8A8, W4A8, Wfp16Afp16, or a float "
                      "format name such as fp16)");
  };
  if (!text.empty() && text[0] != 'W') {
    auto f = parse_format(text);
    if (!f || f->is_int()) return bad("not a candidate name");
    return Candidate{*f, *f};
  }
  const auto a = text.find('A', 1);
  if (text.size() < 4 || a == std::string_view::npos) return bad("not a candidate name");
  auto w = parse_format(text.substr(1, a - 1));
  if (!w) return bad(w.error().message);
  auto act = parse_format(text.substr(a + 1));
  if (!act) return bad(act.error().message);
  return Candidate{*w, *act};
}

float round_to_float_format(float x, const FloatFormatTraits& t) {
  if (std::isnan(x)) return x;
  if (t.kind == FormatKind::Float32) return x;
  const float ax = std::fabs(x);
  if (std::isinf(ax)) {
    if (t.has_infinity && !t.saturates) return x;
    return std::copysign(t.max_finite, x);
  }
  const int emin = 1 - t.exponent_bias;  // exponent of the smallest normal number
  const auto raw_exp = static_cast<int>((std::bit_cast<std::uint32_t>(ax) >> 23) & 0xff);
  const int e = raw_exp == 0 ? -127 : raw_exp - 127;  // float32 subnormals are below every emin
  // Spacing of representable values around x: powers of two, so the scaling is exact.
  const float quantum = std::ldexp(1.0f, std::max(e, emin) - t.mantissa_bits);
  const float r = std::nearbyint(ax / quantum) * quantum;
  if (r > t.max_finite)
    return std::copysign(t.saturates ? t.max_finite : std::numeric_limits<float>::infinity(), x);
  return std::copysign(r, x);
}

}  // namespace mpq
