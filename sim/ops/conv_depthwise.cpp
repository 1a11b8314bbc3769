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
#include "sim/ops/gemm_kernel.hpp"

namespace mpq {
namespace {

using I64 = std::int64_t;

struct PhaseLayout {
  I64 sh, sw;    // strides = number of phases per axis
  I64 hq, wq;    // rows / columns of one phase plane
  I64 plane;     // floats per phase plane (with slack for the junk columns' reads)
  I64 wide;      // output elements computed per channel: OH rows of wq columns
  std::vector<I64> tap_off;  // per tap: phase plane start + shift inside it
};

PhaseLayout phase_layout(const ConvGeometry& g) {
  PhaseLayout L;
  L.sh = g.stride[1];
  L.sw = g.stride[2];
  const I64 KH = g.kernel[1], KW = g.kernel[2];
  const I64 hp = std::max(g.in[1] + g.pad_begin[1], (g.out[1] - 1) * L.sh + (KH - 1) * g.dilation[1] + 1);
  const I64 wp = std::max(g.in[2] + g.pad_begin[2], (g.out[2] - 1) * L.sw + (KW - 1) * g.dilation[2] + 1);
  L.hq = (hp + L.sh - 1) / L.sh;
  L.wq = (wp + L.sw - 1) / L.sw;
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

// Short copies inline (a libc call per 7..28-float row costs more than the copy).
inline void copy_n(const float* src, I64 n, float* dst) {
#if defined(__AVX512F__)
  for (I64 j = 0; j < n; j += 16) {
    const auto m = static_cast<__mmask16>(n - j >= 16 ? 0xffff : (1u << (n - j)) - 1u);
    _mm512_mask_storeu_ps(dst + j, m, _mm512_maskz_loadu_ps(m, src + j));
  }
#else
  std::copy(src, src + n, dst);
#endif
}

// Phase (a, b) holds padded input pixel (i * sh + a, j * sw + b) at [i * wq + j]. Each input
// row is first laid out padded in `row` (sw * wq floats), then split into its sw phases.
// Only input pixels are written: the padding in ph and row must be zero already, and stays so.
void build_phases(const ConvGeometry& g, const PhaseLayout& L, const float* x, float* ph,
                  float* row) {
  const I64 H = g.in[1], W = g.in[2], pt = g.pad_begin[1], pl = g.pad_begin[2];
  const I64 wp = L.sw * L.wq, cols = std::min(W, wp - pl);
  // Padded row r = ih + pt = i * sh + a, stepped without divisions (64-bit idiv is slow).
  I64 a = pt % L.sh, i = pt / L.sh;
  for (I64 ih = 0; ih < H && i < L.hq; ++ih, a = a + 1 == L.sh ? 0 : a + 1, i += a == 0) {
    float* dst = ph + a * L.sw * L.plane + i * L.wq;  // phase (a, 0)
    if (L.sw == 1) {
      copy_n(x + ih * W, cols, dst + pl);
      continue;
    }
    copy_n(x + ih * W, cols, row + pl);
    if (L.sw == 2) {
      float* odd = dst + L.plane;
      for (I64 j = 0; j < L.wq; ++j) {
        dst[j] = row[2 * j];
        odd[j] = row[2 * j + 1];
      }
    } else {
      for (I64 b = 0; b < L.sw; ++b)
        for (I64 j = 0; j < L.wq; ++j) dst[b * L.plane + j] = row[j * L.sw + b];
    }
  }
}

// wide[j] = bias + sum_t w[t] * ph[tap_off[t] + j] for j in [0, L.wide).
void taps(const PhaseLayout& L, const float* ph, const float* w, float bias, float* wide) {
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
}

}  // namespace

void depthwise_conv(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                    float* y) {
  const PhaseLayout L = phase_layout(g);
  const I64 mult = g.out_channels / g.in_channels, planes = g.batch * g.out_channels;
  const I64 kk = g.kernel_pixels(), in_pix = g.in_pixels(), out_pix = g.out_pixels();
  const I64 OH = g.out[1], OW = g.out[2];
  // About 32k multiply-adds per task keeps TBB overhead small on tiny planes.
  const I64 grain = std::max<I64>(1, 32768 / std::max<I64>(1, L.wide * kk));
  tbb::parallel_for(
      tbb::blocked_range<I64>(0, planes, grain), [&](const tbb::blocked_range<I64>& r) {
        float* ph = gemm::thread_scratch(static_cast<std::size_t>(L.sh * L.sw * L.plane));
        float* wide = gemm::thread_scratch(static_cast<std::size_t>(L.wide + 16), 1);
        float* row = gemm::thread_scratch(static_cast<std::size_t>(L.sw * L.wq), 2);
        // Zero the padding once; build_phases rewrites only the input pixels.
        std::fill(ph, ph + L.sh * L.sw * L.plane, 0.0f);
        std::fill(row, row + L.sw * L.wq, 0.0f);
        I64 built = -1;  // input plane currently in ph (channel multipliers share it)
        for (I64 pl = r.begin(); pl != r.end(); ++pl) {
          const I64 n = pl / g.out_channels, m = pl % g.out_channels;
          const I64 src_plane = n * g.in_channels + m / mult;
          if (src_plane != built) {
            build_phases(g, L, x + src_plane * in_pix, ph, row);
            built = src_plane;
          }
          taps(L, ph, w + m * kk, bias ? bias[m] : 0.0f, wide);
          float* yp = y + pl * out_pix;
          for (I64 oh = 0; oh < OH; ++oh) copy_n(wide + oh * L.wq, OW, yp + oh * OW);
        }
      });
}

}  // namespace mpq
