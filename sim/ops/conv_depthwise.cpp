// Depthwise Conv (group == input channels, 1-D or 2-D). With AVX-512, first the direct kernel
// (conv_depthwise_direct.cpp), then, with one output channel per input channel, channel blocks
// in a pixel-major layout (depthwise_blocked). Otherwise a loop per channel plane:
// The plane is copied once into zero-padded "phase" planes (one per stride phase), after which
// every kernel tap is the same flat array shifted by a constant: the output is computed over
// rows of the padded width (a few junk columns per row, dropped on the way out) as long runs
// of multiply-adds without bounds checks.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <tbb/parallel_for.h>

#include "sim/ops/conv_common.hpp"
#include "sim/ops/conv_phase.hpp"
#include "sim/ops/gemm_kernel.hpp"

namespace mpq {
namespace {

using convk::copy_n;
using convk::I64;
using convk::PhaseLayout;

// wide[j] = bias + sum_t w[t] * ph[tap_off[t] + j] for j in [0, L.wide), clamped to the fused
// activation range when the conv has one.
void taps(const ConvGeometry& g, const PhaseLayout& L, const float* ph, const float* w, float bias,
          float* wide) {
  const I64 T = static_cast<I64>(L.tap_off.size()), n = L.wide;
#if defined(__AVX512F__)
  if (T <= 25) {
    __m512 wv[25];
    for (I64 t = 0; t < T; ++t) wv[t] = _mm512_set1_ps(w[t]);
    const I64* off = L.tap_off.data();
    for (I64 j = 0; j < n; j += 16) {
      const __mmask16 m = convk::lanes_below(n - j);
      __m512 acc = _mm512_set1_ps(bias);
      for (I64 t = 0; t < T; ++t)
        acc = _mm512_fmadd_ps(wv[t], _mm512_maskz_loadu_ps(m, ph + off[t] + j), acc);
      if (g.has_activation())
        acc = convk::clamp_ps(acc, _mm512_set1_ps(g.act_min), _mm512_set1_ps(g.act_max));
      _mm512_mask_storeu_ps(wide + j, m, acc);
    }
    return;
  }
#endif
  std::fill(wide, wide + n, bias);
  for (I64 t = 0; t < T; ++t) {
    const float* src = ph + L.tap_off[static_cast<std::size_t>(t)];
    const float wt = w[t];
    for (I64 j = 0; j < n; ++j) wide[j] += wt * src[j];
  }
  if (g.has_activation())
    for (I64 j = 0; j < n; ++j) wide[j] = std::min(std::max(wide[j], g.act_min), g.act_max);
}

#if defined(__AVX512F__)
// Depthwise with multiplier 1, 16 channels at a time: the block's input planes are transposed
// into a zero-padded pixel-major buffer ([pixel][16 channels]), where every kernel tap of every
// output pixel is one full-width FMA with no masks and no junk columns, and the results are
// transposed back. The two transposes cost less than the masked, partly empty vectors of a
// plane-at-a-time loop on small planes (7x7 to 28x28). False when it does not apply.
bool depthwise_blocked(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                       float* y) {
  if (!g.planar() || g.out_channels != g.in_channels) return false;
  const I64 C = g.in_channels, H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const I64 KH = g.kernel[1], KW = g.kernel[2], kk = KH * KW;
  const I64 sh = g.stride[1], sw = g.stride[2], dh = g.dilation[1], dw = g.dilation[2];
  const I64 pt = g.pad_begin[1], pl = g.pad_begin[2];
  // Padded extents actually read by the taps.
  const I64 Hp = std::max(H + pt, (OH - 1) * sh + (KH - 1) * dh + 1);
  const I64 Wp = std::max(W + pl, (OW - 1) * sw + (KW - 1) * dw + 1);
  if (kk > 25) return false;
  const I64 blocks = (C + 15) / 16, in_pix = H * W, out_pix = OH * OW;
  const bool clamp = g.has_activation();
  tbb::parallel_for(
      tbb::blocked_range<I64>(0, g.batch * blocks, 1), [&](const tbb::blocked_range<I64>& r) {
        float* buf = gemm::thread_scratch(static_cast<std::size_t>(Hp * Wp * 16));
        float* obuf = gemm::thread_scratch(static_cast<std::size_t>((out_pix + 16) * 16), 1);
        // Zero once per task range: packing rewrites only the interior.
        std::fill(buf, buf + Hp * Wp * 16, 0.0f);
        for (I64 t = r.begin(); t != r.end(); ++t) {
          const I64 n = t / blocks, c0 = (t % blocks) * 16, nc = std::min<I64>(16, C - c0);
          const float* xb = x + (n * C + c0) * in_pix;
          // Pack: 16 pixels of 16 channels at a time.
          for (I64 ih = 0; ih < H; ++ih)
            for (I64 iw = 0; iw < W; iw += 16) {
              const __mmask16 m = convk::lanes_below(W - iw);
              __m512 v[16];
              for (I64 c = 0; c < 16; ++c)
                v[c] = c < nc ? _mm512_maskz_loadu_ps(m, xb + c * in_pix + ih * W + iw)
                              : _mm512_setzero_ps();
              transpose16(v);
              float* dst = buf + ((ih + pt) * Wp + iw + pl) * 16;
              const I64 np = std::min<I64>(16, W - iw);
              for (I64 p = 0; p < np; ++p) _mm512_storeu_ps(dst + p * 16, v[p]);
            }
          __m512 wv[25];
          for (I64 k = 0; k < kk; ++k) {
            alignas(64) float tmp[16] = {};
            for (I64 l = 0; l < nc; ++l) tmp[l] = w[(c0 + l) * kk + k];
            wv[k] = _mm512_load_ps(tmp);
          }
          alignas(64) float btmp[16] = {};
          if (bias)
            for (I64 l = 0; l < nc; ++l) btmp[l] = bias[c0 + l];
          const __m512 bv = _mm512_load_ps(btmp);
          const __m512 lo = _mm512_set1_ps(g.act_min), hi = _mm512_set1_ps(g.act_max);
          for (I64 oh = 0; oh < OH; ++oh) {
            const float* rowb = buf + (oh * sh) * Wp * 16;
            float* orow = obuf + oh * OW * 16;
            I64 ow = 0;
            for (; ow + 4 <= OW; ow += 4) {
              __m512 a0 = bv, a1 = bv, a2 = bv, a3 = bv;
              for (I64 kh = 0; kh < KH; ++kh) {
                const float* rp = rowb + kh * dh * Wp * 16 + ow * sw * 16;
                for (I64 kw = 0; kw < KW; ++kw) {
                  const __m512 wk = wv[kh * KW + kw];
                  const float* p = rp + kw * dw * 16;
                  a0 = _mm512_fmadd_ps(wk, _mm512_loadu_ps(p), a0);
                  a1 = _mm512_fmadd_ps(wk, _mm512_loadu_ps(p + sw * 16), a1);
                  a2 = _mm512_fmadd_ps(wk, _mm512_loadu_ps(p + 2 * sw * 16), a2);
                  a3 = _mm512_fmadd_ps(wk, _mm512_loadu_ps(p + 3 * sw * 16), a3);
                }
              }
              if (clamp) {
                a0 = convk::clamp_ps(a0, lo, hi);
                a1 = convk::clamp_ps(a1, lo, hi);
                a2 = convk::clamp_ps(a2, lo, hi);
                a3 = convk::clamp_ps(a3, lo, hi);
              }
              _mm512_storeu_ps(orow + ow * 16, a0);
              _mm512_storeu_ps(orow + (ow + 1) * 16, a1);
              _mm512_storeu_ps(orow + (ow + 2) * 16, a2);
              _mm512_storeu_ps(orow + (ow + 3) * 16, a3);
            }
            for (; ow < OW; ++ow) {
              __m512 a0 = bv;
              for (I64 kh = 0; kh < KH; ++kh)
                for (I64 kw = 0; kw < KW; ++kw)
                  a0 = _mm512_fmadd_ps(
                      wv[kh * KW + kw],
                      _mm512_loadu_ps(rowb + (kh * dh * Wp + ow * sw + kw * dw) * 16), a0);
              if (clamp) a0 = convk::clamp_ps(a0, lo, hi);
              _mm512_storeu_ps(orow + ow * 16, a0);
            }
          }
          // Unpack: 16 output pixels of 16 channels at a time.
          float* yb = y + (n * C + c0) * out_pix;
          for (I64 p0 = 0; p0 < out_pix; p0 += 16) {
            __m512 v[16];
            const I64 np = std::min<I64>(16, out_pix - p0);
            for (I64 p = 0; p < 16; ++p)
              v[p] = p < np ? _mm512_loadu_ps(obuf + (p0 + p) * 16) : _mm512_setzero_ps();
            transpose16(v);
            const __mmask16 m = convk::lanes_below(np);
            for (I64 c = 0; c < nc; ++c) _mm512_mask_storeu_ps(yb + c * out_pix + p0, m, v[c]);
          }
        }
      });
  return true;
}
#endif

}  // namespace

namespace {
std::atomic<DepthwisePath> g_depthwise_path{DepthwisePath::Auto};
}  // namespace

void set_depthwise_path(DepthwisePath p) {
  g_depthwise_path = p;
}
DepthwisePath depthwise_path() {
  return g_depthwise_path;
}

void depthwise_conv(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                    float* y) {
  const DepthwisePath path = depthwise_path();
  if ((path == DepthwisePath::Auto || path == DepthwisePath::Direct) &&
      depthwise_direct(g, x, w, bias, y))
    return;
#if defined(__AVX512F__)
  if ((path == DepthwisePath::Auto || path == DepthwisePath::Blocked) &&
      depthwise_blocked(g, x, w, bias, y))
    return;
#endif
  const PhaseLayout L = convk::phase_layout(g);
  const I64 mult = g.out_channels / g.in_channels, planes = g.batch * g.out_channels;
  const I64 kk = g.kernel_pixels(), in_pix = g.in_pixels(), out_pix = g.out_pixels();
  const I64 OH = g.out[1], OW = g.out[2];
  // About 32k multiply-adds per task keeps TBB overhead small on tiny planes.
  const I64 grain = std::max<I64>(1, 32768 / std::max<I64>(1, L.wide * kk));
  tbb::parallel_for(
      tbb::blocked_range<I64>(0, planes, grain), [&](const tbb::blocked_range<I64>& r) {
        float* ph = gemm::thread_scratch(static_cast<std::size_t>(L.sh * L.sw * L.plane));
        float* wide = gemm::thread_scratch(static_cast<std::size_t>(L.wide + 16), 1);
        float* row = gemm::thread_scratch(static_cast<std::size_t>(L.sw * L.wq + 32), 2);
        // Zero the padding once; build_phases rewrites only the input pixels.
        std::fill(ph, ph + L.sh * L.sw * L.plane, 0.0f);
        std::fill(row, row + L.sw * L.wq + 32, 0.0f);
        I64 built = -1;  // input plane currently in ph (channel multipliers share it)
        for (I64 pl = r.begin(); pl != r.end(); ++pl) {
          const I64 n = pl / g.out_channels, m = pl % g.out_channels;
          const I64 src_plane = n * g.in_channels + m / mult;
          if (src_plane != built) {
            const bool more = src_plane + 1 < g.batch * g.in_channels;
            convk::build_phases(g, L, x + src_plane * in_pix, ph, row,
                                more ? x + (src_plane + 1) * in_pix : nullptr);
            built = src_plane;
          }
          taps(g, L, ph, w + m * kk, bias ? bias[m] : 0.0f, wide);
          float* yp = y + pl * out_pix;
          for (I64 oh = 0; oh < OH; ++oh) copy_n(wide + oh * L.wq, OW, yp + oh * OW);
        }
      });
}

}  // namespace mpq
