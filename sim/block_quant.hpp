#pragma once
// Fake quantization to the block-scaled formats of core/number_format.hpp: OCP Microscaling
// (MX v1.0), NVFP4 and group-wise integers. The tensor is viewed as [outer, R, inner], R the
// flattened reduction axes (QuantParams::block_axis, block_axes); each run of `block` elements
// along R at one (outer, inner) position shares a scale computed from the run's absolute
// maximum. When R is not a multiple of the block, the last block is shorter (the same as padding
// it with zeros, which change no maximum). The rules, with the specification's sections:
//  MX (spec 6.3): shared_exp = floor(log2(max |V_i|)) - emax_elem, clamped to E8M0's
//    [-127, 127] (an all-zero block gets -127); X = 2^shared_exp; P_i = V_i / X rounded to the
//    element format, round half to even, magnitudes beyond the element's largest normal clamped
//    to it. MXINT8 elements are two's complement with an implicit 2^-6 (section 5.3), clamped to
//    +-127 x 2^-6 like the largest normal. A block holding NaN or Inf gets the NaN scale (0xFF),
//    which makes every element of the block NaN (section 5.4.1).
//  NVFP4 (ours, after NVIDIA's recipe): a per-tensor FP32 scale s (QuantParams::scale[0]),
//    d = e4m3(amax / (6 s)) rounded half to even and saturated, D = d x s; P_i = e2m1(V_i x
//    (1/D)); y = P_i x D; D = 0 gives 0.
//  int<b>_g<g>: s = fp16(amax / (2^(b-1) - 1)), saturated at 65504; q = clamp(nearbyint(V x
//    (1/s)), -qmax, qmax); y = q x s; s = 0 gives 0. NaN/Inf in a group: the group is NaN.
// Every operation is an exactly specified float32 operation, so the numpy reference
// (tests/reference/block_formats_reference.py) reproduces every element bit for bit.
#include <span>

#include "fake_quant.hpp"

namespace mpq {

// src -> dst (may alias) for a tensor of `shape` at block format p.format.
void fake_quantize_blocks(const float* src, float* dst, const Shape& shape, const QuantParams& p);

// The per-tensor scale of NVFP4 for a tensor whose absolute maximum is `amax`: amax / (6 x 448),
// so the largest block scale is E4M3's largest value; 1 when amax is 0 or not finite.
float nvfp4_tensor_scale(float amax);

}  // namespace mpq
