#include "float_rounding.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace mpq {

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
