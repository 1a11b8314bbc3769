#pragma once
// Fake quantization: round a float tensor to a quantizer's grid and map it back to float, so
// the float engine computes what the integer (or low-precision float) hardware computes.
// Integer formats follow the affine convention of PyTorch's fake_quantize_* exactly:
//   q = clamp(nearbyint(x * (1/scale)) + zero_point, qmin, qmax),  y = (q - zero_point) * scale
#include <cstdint>
#include <span>
#include <vector>

#include "core/candidate.hpp"
#include "graph/tensor.hpp"

namespace mpq {

enum class QuantScheme : std::uint8_t {
  Symmetric,   // signed, zero_point 0; unsigned with zero_point 0 on non-negative tensors
  Asymmetric,  // unsigned with a zero_point
};

// Everything needed to apply one quantizer; one scale (and zero point) per channel when
// `axis` >= 0, else one for the whole tensor. Block formats (block_quant.hpp) compute their
// block scales from the values; `scale` then holds NVFP4's per-tensor scale only.
struct QuantParams {
  NumberFormat format;
  int axis = -1;
  std::vector<float> scale;              // empty for unscaled float formats
  std::vector<std::int32_t> zero_point;  // integer formats
  std::int32_t qmin = 0, qmax = 0;       // integer formats
  int block_axis = -1, block_axes = 1;   // block formats: the flattened reduction axes

  bool per_channel() const { return axis >= 0; }
  // Every element maps on its own (no per-channel scale, no block): any run can be quantized.
  bool elementwise() const { return !per_channel() && !format.is_block(); }
};

// The integer grid of `bits` under `scheme` on a tensor that is (or not) non-negative.
struct IntGrid {
  std::int32_t qmin, qmax;
};
IntGrid int_grid(int bits, QuantScheme scheme, bool non_negative);

// Scale and zero point that map [lo, hi] onto the grid (the range is widened to include 0).
// Symmetric signed: scale = max(|lo|, |hi|) / qmax; asymmetric: scale = (hi - lo) / (qmax -
// qmin), zero_point = qmin - round(lo / scale) clamped to the grid.
struct ScaleZero {
  float scale;
  std::int32_t zero_point;
};
ScaleZero scale_from_range(float lo, float hi, IntGrid grid, QuantScheme scheme);

// In place over the whole tensor; parallel over large tensors, same result for any thread count.
void fake_quantize(Tensor& t, const QuantParams& p);
// In place over any run of a tensor with per-tensor parameters (every element maps on its
// own), on the calling thread: for fused kernels that quantize values as they produce them.
void fake_quantize(std::span<float> values, const QuantParams& p);
// `src` into `dst` (dst resized), for weights kept in a cache next to the float original.
void fake_quantize(const Tensor& src, Tensor& dst, const QuantParams& p);

// dst = (q - zero_point) x scale for integers `q` of a tensor of `shape` (integer format; the
// weights AdaRound chose), with fake_quantize's arithmetic after its rounding.
void dequantize(std::span<const std::int32_t> q, const Shape& shape, const QuantParams& p,
                Tensor& dst);

// Element by element, for the tests and as the reference of the fast paths above.
float fake_quantize_int_reference(float x, float scale, std::int32_t zero_point, std::int32_t qmin,
                                  std::int32_t qmax);

}  // namespace mpq
