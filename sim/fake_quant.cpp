#include "fake_quant.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "block_quant.hpp"
#include "float_rounding.hpp"
#include "ops/broadcast.hpp"

namespace mpq {
namespace {

// One contiguous run of elements sharing one scale. Written so that GCC vectorizes it
// (nearbyint becomes vrndscaleps); the arithmetic is that of fake_quantize_int_reference.
void quantize_int_run(const float* src, float* dst, std::int64_t n, float scale, float zp,
                      float qmin, float qmax) {
  const float inv = 1.0f / scale;
  for (std::int64_t k = 0; k < n; ++k) {
    float q = std::nearbyint(src[k] * inv) + zp;
    q = std::min(std::max(q, qmin), qmax);
    dst[k] = (q - zp) * scale;
  }
}

void quantize_float_run(const float* src, float* dst, std::int64_t n, float scale,
                        const FloatFormatTraits& t) {
  if (scale == 1.0f) {
    for (std::int64_t k = 0; k < n; ++k) dst[k] = round_to_float_format(src[k], t);
    return;
  }
  const float inv = 1.0f / scale;
  for (std::int64_t k = 0; k < n; ++k) dst[k] = round_to_float_format(src[k] * inv, t) * scale;
}

void quantize_run(const float* src, float* dst, std::int64_t n, const QuantParams& p,
                  std::size_t channel) {
  const float scale = p.scale.empty() ? 1.0f : p.scale[p.per_channel() ? channel : 0];
  if (p.format.is_int()) {
    const auto zp = static_cast<float>(p.zero_point[p.per_channel() ? channel : 0]);
    quantize_int_run(src, dst, n, scale, zp, static_cast<float>(p.qmin),
                     static_cast<float>(p.qmax));
  } else {
    quantize_float_run(src, dst, n, scale, p.format.float_traits());
  }
}

void apply(const float* src, float* dst, const Shape& shape, const QuantParams& p) {
  const std::int64_t n = numel(shape);
  if (p.format.is_identity()) {
    if (src != dst) std::copy(src, src + n, dst);
    return;
  }
  if (p.format.is_block()) {
    fake_quantize_blocks(src, dst, shape, p);
    return;
  }
  // A float format without scales (fp16, bf16) rounds every channel alike.
  if (!p.per_channel() || (p.scale.empty() && !p.format.is_int())) {
    ops::parallel_chunks(
        n, [&](std::int64_t b, std::int64_t e) { quantize_run(src + b, dst + b, e - b, p, 0); });
    return;
  }
  assert(p.axis < static_cast<int>(shape.size()));
  const auto axis = static_cast<std::size_t>(p.axis);
  const std::int64_t channels = shape[axis];
  std::int64_t inner = 1;
  for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  const std::int64_t outer = channels ? n / (channels * inner) : 0;
  assert(static_cast<std::int64_t>(p.scale.size()) == channels);
  // One task per (outer, channel) run; runs are independent, so the order does not matter.
  ops::parallel_chunks(
      outer * channels,
      [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t r = b; r < e; ++r) {
          const std::int64_t off = r * inner;
          quantize_run(src + off, dst + off, inner, p, static_cast<std::size_t>(r % channels));
        }
      },
      std::max<std::int64_t>(1, ops::kParallelGrain / std::max<std::int64_t>(inner, 1)));
}

}  // namespace

IntGrid int_grid(int bits, QuantScheme scheme, bool non_negative) {
  assert(bits >= kMinIntBits && bits <= kMaxIntBits);
  if (scheme == QuantScheme::Asymmetric || non_negative) return {0, (1 << bits) - 1};
  return {-(1 << (bits - 1)), (1 << (bits - 1)) - 1};
}

ScaleZero scale_from_range(float lo, float hi, IntGrid grid, QuantScheme scheme) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  if (scheme == QuantScheme::Symmetric) {
    const float amax = grid.qmin < 0 ? std::max(-lo, hi) : hi;
    const float scale = amax > 0 ? amax / static_cast<float>(grid.qmax) : 1.0f;
    return {scale, 0};
  }
  if (hi - lo <= 0) return {1.0f, grid.qmin};
  const float scale = (hi - lo) / static_cast<float>(grid.qmax - grid.qmin);
  const float zp = static_cast<float>(grid.qmin) - std::nearbyint(lo / scale);
  return {scale, static_cast<std::int32_t>(
                     std::clamp(zp, static_cast<float>(grid.qmin), static_cast<float>(grid.qmax)))};
}

void fake_quantize(Tensor& t, const QuantParams& p) {
  assert(t.is_float());
  apply(t.f.data(), t.f.data(), t.shape, p);
}

void fake_quantize(std::span<float> values, const QuantParams& p) {
  assert(p.elementwise());
  if (p.format.is_identity()) return;
  quantize_run(values.data(), values.data(), static_cast<std::int64_t>(values.size()), p, 0);
}

void fake_quantize(const Tensor& src, Tensor& dst, const QuantParams& p) {
  assert(src.is_float());
  dst.dtype = DType::Float32;
  dst.shape = src.shape;
  dst.f.resize(src.f.size());
  apply(src.f.data(), dst.f.data(), src.shape, p);
}

void dequantize(std::span<const std::int32_t> q, const Shape& shape, const QuantParams& p,
                Tensor& dst) {
  assert(p.format.is_int() && static_cast<std::int64_t>(q.size()) == numel(shape));
  dst.dtype = DType::Float32;
  dst.shape = shape;
  dst.f.resize(q.size());
  std::int64_t inner = 1, channels = 1;
  if (p.per_channel()) {
    channels = shape[static_cast<std::size_t>(p.axis)];
    for (std::size_t d = static_cast<std::size_t>(p.axis) + 1; d < shape.size(); ++d)
      inner *= shape[d];
  }
  for (std::size_t e = 0; e < q.size(); ++e) {
    const auto c = static_cast<std::size_t>((static_cast<std::int64_t>(e) / inner) % channels);
    const auto zp = static_cast<float>(p.zero_point[c]);
    dst.f[e] = (static_cast<float>(q[e]) - zp) * p.scale[c];
  }
}

float fake_quantize_int_reference(float x, float scale, std::int32_t zero_point, std::int32_t qmin,
                                  std::int32_t qmax) {
  const float inv = 1.0f / scale;
  const float qf = static_cast<float>(zero_point) + std::nearbyint(x * inv);
  // PyTorch converts qf to int64 unchecked: for NaN, +-inf and |qf| >= 2^63 that conversion is
  // undefined (x86 gives INT64_MIN, i.e. qmin even for +inf). mpq defines those cases as the
  // fast path computes them: NaN stays NaN, beyond the grid saturates to qmin / qmax.
  if (std::isnan(qf)) return (qf - static_cast<float>(zero_point)) * scale;
  constexpr float kBig = 4611686018427387904.0f;  // 2^62: safely inside int64
  const auto q = qf >= kBig    ? std::int64_t{qmax}
                 : qf <= -kBig ? std::int64_t{qmin}
                               : static_cast<std::int64_t>(qf);
  const std::int64_t c = std::min<std::int64_t>(std::max<std::int64_t>(q, qmin), qmax);
  return static_cast<float>(static_cast<double>(c - zero_point) * static_cast<double>(scale));
}

}  // namespace mpq
