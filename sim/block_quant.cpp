#include "block_quant.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <limits>

#include "float_rounding.hpp"
#include "ops/broadcast.hpp"

namespace mpq {
namespace {

constexpr std::uint32_t kAbsMask = 0x7fffffffu, kInfBits = 0x7f800000u;

// 2^e as a float for e in [-149, 127], exactly.
float pow2(int e) {
  return e >= -126 ? std::bit_cast<float>(static_cast<std::uint32_t>(e + 127) << 23)
                   : std::bit_cast<float>(std::uint32_t{1} << (e + 149));
}

// Rounding of a scaled value to a float element format: half to even, subnormals, magnitudes
// beyond the largest value clamped to it. Branch-free so that the loops vectorize; NaN stays NaN.
struct FloatElement {
  int mantissa_bits, emin;
  float max_finite;
  float operator()(float v) const {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(v);
    const std::uint32_t sign = bits & ~kAbsMask;
    const float a = std::bit_cast<float>(bits & kAbsMask);
    // Capped so that Inf and huge values (clamped below anyway) keep a normal inverse.
    const int e =
        std::min(std::max(static_cast<int>((bits >> 23) & 0xffu) - 127, emin), 100) - mantissa_bits;
    // The spacing 2^e of the format's values around v and its inverse, both normal floats.
    const float quantum = std::bit_cast<float>(static_cast<std::uint32_t>(e + 127) << 23);
    const float inverse = std::bit_cast<float>(static_cast<std::uint32_t>(127 - e) << 23);
    const float r = std::min(std::nearbyint(a * inverse) * quantum, max_finite);
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(r) | sign);
  }
};

// MXINT8 elements: k x 2^-6, |k| <= 127.
struct MxIntElement {
  float operator()(float v) const {
    const float q = std::min(std::max(std::nearbyint(v * 64.0f), -127.0f), 127.0f);
    return q * 0.015625f;
  }
};

struct IntElement {
  float qmax;
  float operator()(float v) const { return std::min(std::max(std::nearbyint(v), -qmax), qmax); }
};

// A block's scale as the pair (multiplier into the element grid, multiplier back).
struct BlockScaleValues {
  float in, out;
};

// The scale of a block from the bits of its absolute maximum (NaN and Inf compare above all
// finite values as unsigned bits).
struct ScaleRule {
  const NumberFormat* format;
  float tensor_scale;  // NVFP4
  float qmax;          // IntGroup

  BlockScaleValues operator()(std::uint32_t amax_bits) const {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    if (amax_bits >= kInfBits) return {nan, nan};
    const BlockFormatTraits& t = format->block_traits();
    const float amax = std::bit_cast<float>(amax_bits);
    switch (t.scale) {
      case BlockScale::E8M0: {
        // floor(log2(amax)) is the biased exponent field minus 127 for a normal amax; a zero or
        // subnormal amax lands below -127 and is clamped there with it.
        const int floor_log2 = static_cast<int>(amax_bits >> 23) - 127;
        const int shared = std::clamp(floor_log2 - t.emax_elem, -127, 127);
        return {pow2(-shared), pow2(shared)};
      }
      case BlockScale::Fp8E4M3: {
        const float d = round_to_float_format(amax / (6.0f * tensor_scale), kFloatFormats[2]);
        const float denom = d * tensor_scale;
        if (denom == 0.0f) return {0.0f, 0.0f};
        return {1.0f / denom, denom};
      }
      case BlockScale::Fp16: {
        const float s = std::min(round_to_float_format(amax / qmax, kFloatFormats[0]), 65504.0f);
        if (s == 0.0f) return {0.0f, 0.0f};
        return {1.0f / s, s};
      }
    }
    return {nan, nan};
  }
};

std::uint32_t abs_bits(float x) {
  return std::bit_cast<std::uint32_t>(x) & kAbsMask;
}

// Blocks contiguous in memory (inner == 1): one scale per block.
template <typename Element>
void contiguous_blocks(const float* src, float* dst, std::int64_t rows, std::int64_t r,
                       std::int64_t block, const ScaleRule& rule, Element elem) {
  for (std::int64_t row = 0; row < rows; ++row)
    for (std::int64_t b = 0; b < r; b += block) {
      const float* s = src + row * r + b;
      float* d = dst + row * r + b;
      const std::int64_t n = std::min(block, r - b);
      std::uint32_t amax = 0;
      for (std::int64_t k = 0; k < n; ++k) amax = std::max(amax, abs_bits(s[k]));
      const BlockScaleValues sc = rule(amax);
      for (std::int64_t k = 0; k < n; ++k) d[k] = elem(s[k] * sc.in) * sc.out;
    }
}

// Blocks strided by `inner` (a channel axis of NCHW): the scales of a run of inner positions
// at once, so that every loop runs along contiguous memory.
template <typename Element>
void strided_blocks(const float* src, float* dst, std::int64_t r, std::int64_t inner,
                    std::int64_t block, std::int64_t b, const ScaleRule& rule, Element elem) {
  constexpr std::int64_t kLanes = 256;
  std::array<std::uint32_t, kLanes> amax;
  std::array<float, kLanes> in, out;
  const std::int64_t n = std::min(block, r - b);
  for (std::int64_t j0 = 0; j0 < inner; j0 += kLanes) {
    const std::int64_t w = std::min(kLanes, inner - j0);
    std::fill_n(amax.begin(), w, 0u);
    for (std::int64_t k = 0; k < n; ++k) {
      const float* s = src + (b + k) * inner + j0;
      for (std::int64_t j = 0; j < w; ++j) amax[j] = std::max(amax[j], abs_bits(s[j]));
    }
    for (std::int64_t j = 0; j < w; ++j) {
      const BlockScaleValues sc = rule(amax[j]);
      in[j] = sc.in;
      out[j] = sc.out;
    }
    for (std::int64_t k = 0; k < n; ++k) {
      const float* s = src + (b + k) * inner + j0;
      float* d = dst + (b + k) * inner + j0;
      for (std::int64_t j = 0; j < w; ++j) d[j] = elem(s[j] * in[j]) * out[j];
    }
  }
}

template <typename Element>
void run_blocks(const float* src, float* dst, std::int64_t outer, std::int64_t r,
                std::int64_t inner, std::int64_t block, const ScaleRule& rule, Element elem) {
  if (inner == 1) {
    // Rows of r elements; tasks of whole rows.
    ops::parallel_chunks(
        outer,
        [&](std::int64_t a, std::int64_t e) {
          contiguous_blocks(src + a * r, dst + a * r, e - a, r, block, rule, elem);
        },
        std::max<std::int64_t>(1, ops::kParallelGrain / std::max<std::int64_t>(r, 1)));
    return;
  }
  const std::int64_t blocks = (r + block - 1) / block;
  ops::parallel_chunks(
      outer * blocks,
      [&](std::int64_t a, std::int64_t e) {
        for (std::int64_t t = a; t < e; ++t) {
          const std::int64_t o = t / blocks, b = (t % blocks) * block;
          strided_blocks(src + o * r * inner, dst + o * r * inner, r, inner, block, b, rule, elem);
        }
      },
      std::max<std::int64_t>(1, ops::kParallelGrain / std::max<std::int64_t>(block * inner, 1)));
}

}  // namespace

float nvfp4_tensor_scale(float amax) {
  if (!(amax > 0.0f) || !std::isfinite(amax)) return 1.0f;
  return amax / (6.0f * 448.0f);
}

void fake_quantize_blocks(const float* src, float* dst, const Shape& shape, const QuantParams& p) {
  const NumberFormat& f = p.format;
  assert(f.is_block() && f.block > 0);
  const int rank = static_cast<int>(shape.size());
  // An axis the tensor does not have (a rank that differs from the placement's): the last.
  int axis = p.block_axis, axes = p.block_axes;
  if (axis < 0 || axis + axes > rank) {
    axis = std::max(rank - 1, 0);
    axes = rank > 0 ? 1 : 0;
  }
  std::int64_t outer = 1, r = 1, inner = 1;
  for (int d = 0; d < rank; ++d)
    (d < axis ? outer : d < axis + axes ? r : inner) *= shape[static_cast<std::size_t>(d)];
  if (outer * r * inner == 0) return;
  const BlockFormatTraits& t = f.block_traits();
  ScaleRule rule{&f, p.scale.empty() ? 1.0f : p.scale[0],
                 static_cast<float>((1 << (f.bits - 1)) - 1)};
  const std::int64_t block = f.block;
  if (f.kind == FormatKind::IntGroup)
    run_blocks(src, dst, outer, r, inner, block, rule, IntElement{rule.qmax});
  else if (t.integer_elements)
    run_blocks(src, dst, outer, r, inner, block, rule, MxIntElement{});
  else
    run_blocks(
        src, dst, outer, r, inner, block, rule,
        FloatElement{t.element.mantissa_bits, 1 - t.element.exponent_bias, t.element.max_finite});
}

}  // namespace mpq
