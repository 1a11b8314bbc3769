#pragma once
// Zero-padded "phase planes" of one input channel, shared by the depthwise loop
// (conv_depthwise.cpp) and the implicit-GEMM conv (conv_implicit.cpp): phase (a, b) holds
// padded pixel (i * sh + a, j * sw + b) at [i * wq + j], so every kernel tap of a strided conv
// reads one phase plane shifted by a constant, over output rows of the padded width wq.
#include <algorithm>
#include <cstdint>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "sim/ops/conv_common.hpp"
#include "sim/ops/kernel_util.hpp"

namespace mpq::convk {

using I64 = std::int64_t;

struct PhaseLayout {
  I64 sh, sw;                // strides = number of phases per axis
  I64 hq, wq;                // rows / columns of one phase plane
  I64 plane;                 // floats per phase plane (with slack for the junk columns' reads)
  I64 wide;                  // output elements computed per channel: OH rows of wq columns
  std::vector<I64> tap_off;  // per tap: phase plane start + shift inside it
};

// Rows and columns of a zero-padded input plane: the input after its leading padding, and
// every tap of every output inside it.
struct PaddedExtent {
  I64 h, w;
};
inline PaddedExtent padded_extent(const ConvGeometry& g) {
  return {std::max(g.in[1] + g.pad_begin[1],
                   (g.out[1] - 1) * g.stride[1] + (g.kernel[1] - 1) * g.dilation[1] + 1),
          std::max(g.in[2] + g.pad_begin[2],
                   (g.out[2] - 1) * g.stride[2] + (g.kernel[2] - 1) * g.dilation[2] + 1)};
}

// With `shared_columns` (for readers that discard the columns past OW of each row, like the
// implicit GEMM), a stride-1 plane whose right padding is no wider than its left one gets no
// right padding: reads past a row's end land in the next row's left padding, which is zero
// too. The junk columns per row then drop from pl + pr to pl (ResNet's 28-wide layers: 30 ->
// 29 columns computed per 28).
inline PhaseLayout phase_layout(const ConvGeometry& g, bool shared_columns = false) {
  PhaseLayout L;
  L.sh = g.stride[1];
  L.sw = g.stride[2];
  const I64 KH = g.kernel[1], KW = g.kernel[2];
  const PaddedExtent pad = padded_extent(g);
  L.hq = (pad.h + L.sh - 1) / L.sh;
  L.wq = (pad.w + L.sw - 1) / L.sw;
  const I64 pl = g.pad_begin[2], right = pad.w - pl - g.in[2];
  if (shared_columns && L.sw == 1 && pl > 0 && right <= pl && g.out[2] <= g.in[2] + pl)
    L.wq = g.in[2] + pl;
  L.wide = g.out[1] * L.wq;
  // Junk columns of the last row read up to one row past the plane.
  L.plane = (L.hq + 1) * L.wq + 16;
  for (I64 kh = 0; kh < KH; ++kh)
    for (I64 kw = 0; kw < KW; ++kw) {
      const I64 rh = kh * g.dilation[1], rw = kw * g.dilation[2];
      const I64 phase = (rh % L.sh) * L.sw + rw % L.sw;
      L.tap_off.push_back(phase * L.plane + (rh / L.sh) * L.wq + rw / L.sw);
    }
  return L;
}

#if defined(__AVX512F__)
// Fused activation: lo <= value <= hi. NaN stays NaN (MAXPS / MINPS return their second
// operand when either is NaN). maskz forms: GCC 12's plain _mm512_max_ps trips
// -Wmaybe-uninitialized.
inline __m512 clamp_ps(__m512 v, __m512 lo, __m512 hi) {
  return _mm512_maskz_min_ps(0xffff, hi, _mm512_maskz_max_ps(0xffff, lo, v));
}

using mpq::lanes_below;  // kernel_util.hpp; kernels here spell it convk::lanes_below
// Lanes [lo, hi).
inline __mmask16 lanes_between(I64 lo, I64 hi) {
  return static_cast<__mmask16>(lanes_below(hi) & ~lanes_below(lo));
}

// Permute indices of _mm512_permutex2var_ps that pick the even (odd) elements of two
// concatenated vectors: a 32-float stride-2 window to 16 lanes.
inline __m512i even_lanes() {
  return _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
}
inline __m512i odd_lanes() {
  return _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
}
#endif

// Short copies inline (a libc call per 7..28-float row costs more than the copy).
inline void copy_n(const float* src, I64 n, float* dst) {
#if defined(__AVX512F__)
  for (I64 j = 0; j < n; j += 16) {
    const __mmask16 m = lanes_below(n - j);
    _mm512_mask_storeu_ps(dst + j, m, _mm512_maskz_loadu_ps(m, src + j));
  }
#else
  std::copy(src, src + n, dst);
#endif
}

// Phase (a, b) holds padded input pixel (i * sh + a, j * sw + b) at [i * wq + j]. Each input
// row is first laid out padded in `row` (sw * wq floats), then split into its sw phases.
// Only input pixels are written: the padding in ph and row must be zero already, and stays so.
// `next` (may be null) is the plane to be built after this one: it is prefetched row by row,
// since planes are read once and are usually not in cache.
inline void build_phases(const ConvGeometry& g, const PhaseLayout& L, const float* x, float* ph,
                         float* row, const float* next = nullptr) {
  const I64 H = g.in[1], W = g.in[2], pt = g.pad_begin[1], pl = g.pad_begin[2];
  const I64 wp = L.sw * L.wq, cols = std::min(W, wp - pl);
  if (next) prefetch_plane(next, H * W);
  // Padded row r = ih + pt = i * sh + a, stepped without divisions (64-bit idiv is slow).
  I64 a = pt % L.sh, i = pt / L.sh;
  for (I64 ih = 0; ih < H && i < L.hq; ++ih, a = a + 1 == L.sh ? 0 : a + 1, i += a == 0) {
    float* dst = ph + a * L.sw * L.plane + i * L.wq;  // phase (a, 0)
    if (L.sw == 1) {
      copy_n(x + ih * W, cols, dst + pl);
      continue;
    }
    if (L.sw == 2) {
      float* odd = dst + L.plane;
#if defined(__AVX512F__)
      // Straight from the input row: 32 input columns per step (masked to [0, cols)), split
      // into even / odd phase columns with permutes. No staging row: reloading freshly
      // masked-stored data would defeat store forwarding.
      const __m512i ev = even_lanes(), od = odd_lanes();
      const float* xr = x + ih * W;
      for (I64 j = 0; j < L.wq; j += 16) {
        const I64 base = 2 * j - pl;  // input column of lane 0
        const __m512 lo = _mm512_maskz_loadu_ps(lanes_between(-base, cols - base), xr + base);
        const __m512 hi =
            _mm512_maskz_loadu_ps(lanes_between(-base - 16, cols - base - 16), xr + base + 16);
        const __mmask16 m = lanes_below(L.wq - j);
        _mm512_mask_storeu_ps(dst + j, m, _mm512_permutex2var_ps(lo, ev, hi));
        _mm512_mask_storeu_ps(odd + j, m, _mm512_permutex2var_ps(lo, od, hi));
      }
#else
      copy_n(x + ih * W, cols, row + pl);
      for (I64 j = 0; j < L.wq; ++j) {
        dst[j] = row[2 * j];
        odd[j] = row[2 * j + 1];
      }
#endif
    } else {
      copy_n(x + ih * W, cols, row + pl);
      for (I64 b = 0; b < L.sw; ++b)
        for (I64 j = 0; j < L.wq; ++j) dst[b * L.plane + j] = row[j * L.sw + b];
    }
  }
}

}  // namespace mpq::convk
