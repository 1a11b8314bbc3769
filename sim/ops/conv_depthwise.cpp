// Depthwise Conv (group == input channels, 1-D or 2-D) as a direct loop per channel plane.
// The plane is copied once into zero-padded "phase" planes (one per stride phase), after which
// every kernel tap is the same flat array shifted by a constant: the output is computed over
// rows of the padded width (a few junk columns per row, dropped on the way out) as long runs
// of multiply-adds without bounds checks.
#include <algorithm>
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
      const __mmask16 m = static_cast<__mmask16>(n - j >= 16 ? 0xffff : (1u << (n - j)) - 1u);
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

}  // namespace

void depthwise_conv(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                    float* y) {
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
