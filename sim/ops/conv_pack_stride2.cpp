// im2col panels of width-stride-2 convs for the packed GEMM (conv_gemm.cpp), row by row: the
// 16 output columns of a row chunk read every other input column, so two masked loads and one
// permute make a vector that a gather of 16 lanes made before. The gathers cost twice the
// GEMM itself on ResNet's strided 3x3 layers.
#include "sim/ops/conv_common.hpp"

#if defined(__AVX512F__)

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "sim/ops/conv_micro.hpp"
#include "sim/ops/conv_phase.hpp"

namespace mpq::convk {

std::vector<RowChunk>& row_chunks(const ConvGeometry& g, I64 q0, I64 nq) {
  thread_local std::vector<RowChunk> chunks;
  chunks.clear();
  const I64 N = g.out_pixels(), OW = g.out[2], image = g.in_channels * g.in_pixels();
  const I64 n_first = q0 / N;
  I64 n = n_first, p = q0 % N, oh = p / OW, ow = p % OW;
  for (I64 j = 0; j < nq;) {
    const I64 len = std::min<I64>({16, OW - ow, nq - j});
    chunks.push_back({(n - n_first) * image, oh * g.stride[1] - g.pad_begin[1],
                      ow * g.stride[2] - g.pad_begin[2], j / kNR, j % kNR, len});
    j += len;
    ow += len;
    if (ow == OW) {
      ow = 0;
      if (++oh == g.out[1]) {
        oh = 0;
        ++n;
      }
    }
  }
  return chunks;
}

void pack_columns_stride2(const ConvGeometry& g, const float* xb, I64 grp, I64 k0, I64 k1,
                          const std::vector<RowChunk>& chunks, I64 nq, float* bp) {
  const I64 cg = g.in_channels / g.group, H = g.in[1], W = g.in[2], KW = g.kernel[2];
  const I64 taps = g.kernel_pixels(), kc = k1 - k0, in_pix = g.in_pixels(), panel = kc * kNR;
  const I64 dh = g.dilation[1], dw = g.dilation[2];
  const __m512i even = even_lanes();
  // The last panel's columns past nq become zeros.
  if (const I64 tail = nq % kNR; tail)
    for (I64 k = 0; k < kc; ++k)
      for (I64 v = tail / 16 * 16; v < kNR; v += 16)
        _mm512_mask_storeu_ps(bp + nq / kNR * panel + k * kNR + v,
                              static_cast<__mmask16>(~lanes_below(tail - v)), _mm512_setzero_ps());
  // Per chunk and kernel column, the masks of its two loads (input columns iw .. iw + 31,
  // masked to the row).
  thread_local std::vector<__mmask16> masks;
  masks.resize(chunks.size() * static_cast<std::size_t>(2 * KW));
  for (std::size_t i = 0; i < chunks.size(); ++i)
    for (I64 kw = 0; kw < KW; ++kw) {
      const I64 iw = chunks[i].iw + kw * dw;
      masks[i * static_cast<std::size_t>(2 * KW) + static_cast<std::size_t>(2 * kw)] =
          lanes_between(-iw, W - iw);
      masks[i * static_cast<std::size_t>(2 * KW) + static_cast<std::size_t>(2 * kw + 1)] =
          lanes_between(-iw - 16, W - iw - 16);
    }
  // Image by image, channel by channel: one input plane is read by every chunk and tap of the
  // image while it is in L1, and the next one is fetched meanwhile (planes are read once and
  // are usually not in cache). Tap by tap over the whole block missed the cache on most loads.
  const I64 c_first = k0 / taps, c_last = (k1 - 1) / taps;
  for (std::size_t a = 0; a < chunks.size();) {
    std::size_t b = a + 1;
    while (b < chunks.size() && chunks[b].x == chunks[a].x) ++b;
    for (I64 c = c_first; c <= c_last; ++c) {
      const float* plane = xb + chunks[a].x + (grp * cg + c) * in_pix;
      if (c < c_last) prefetch_plane(plane + in_pix, in_pix);
      const I64 t0 = c == c_first ? k0 % taps : 0, t1 = c == c_last ? (k1 - 1) % taps + 1 : taps;
      for (std::size_t i = a; i < b; ++i) {
        const RowChunk& ch = chunks[i];
        const __mmask16* m = masks.data() + i * static_cast<std::size_t>(2 * KW);
        const I64 first = std::min<I64>(ch.len, kNR - ch.offset);
        const __mmask16 m_first = lanes_below(first), m_spill = lanes_between(first, ch.len);
        float* dst = bp + ch.panel * panel + ch.offset + (c * taps - k0) * kNR;
        float* spill = bp + (ch.panel + 1) * panel - first + (c * taps - k0) * kNR;
        I64 kh = t0 / KW, kw = t0 % KW;
        for (I64 t = t0; t < t1; ++t) {
          const I64 ih = ch.ih + kh * dh;
          __m512 v = _mm512_setzero_ps();
          if (ih >= 0 && ih < H) {
            const float* src = plane + ih * W + ch.iw + kw * dw;
            v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m[2 * kw], src), even,
                                       _mm512_maskz_loadu_ps(m[2 * kw + 1], src + 16));
          }
          _mm512_mask_storeu_ps(dst + t * kNR, m_first, v);
          if (m_spill) _mm512_mask_storeu_ps(spill + t * kNR, m_spill, v);
          if (++kw == KW) {
            kw = 0;
            ++kh;
          }
        }
      }
    }
    a = b;
  }
}

}  // namespace mpq::convk

#endif
