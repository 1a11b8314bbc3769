// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool over 1-D/2-D/3-D NC... tensors.
// Spatial dims are right-aligned into (depth, height, width). Each output row reduces its
// window rows into a padded row buffer (vertical pass), then each output column reduces a
// branch-free run of that buffer (horizontal pass); planes run in parallel.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <tbb/parallel_for.h>

#include "sim/op_registry.hpp"
#include "sim/ops/kernel_util.hpp"

namespace mpq {
namespace {

using I64 = std::int64_t;
using Arr3 = std::array<I64, 3>;

struct PoolGeometry {
  int spatial = 2;
  I64 planes = 1;  // N * C
  Arr3 in{1, 1, 1}, out{1, 1, 1}, kernel{1, 1, 1}, stride{1, 1, 1}, dilation{1, 1, 1};
  Arr3 pad_begin{0, 0, 0}, pad_end{0, 0, 0};
  I64 in_pixels() const { return in[0] * in[1] * in[2]; }
  I64 out_pixels() const { return out[0] * out[1] * out[2]; }
};

std::vector<I64> list_attr(const OpNode& node, const char* key, std::size_t n, I64 dflt) {
  auto v = node.attr_ints(key, std::vector<I64>(n, dflt));
  if (v.size() != n)
    throw OpError(std::string("attribute ") + key + " must have " + std::to_string(n) +
                  " values, got " + std::to_string(v.size()));
  return v;
}

PoolGeometry pool_geometry(const OpNode& node, const Shape& x) {
  if (x.size() < 3 || x.size() > 5)
    throw OpError("input must have rank 3, 4 or 5 (N, C, spatial...), got " + shape_str(x));
  PoolGeometry g;
  g.spatial = static_cast<int>(x.size()) - 2;
  const std::size_t s = static_cast<std::size_t>(g.spatial), off = 3 - s;
  g.planes = x[0] * x[1];
  if (!node.has_attr("kernel_shape")) throw OpError("attribute kernel_shape is required");
  const auto ks = list_attr(node, "kernel_shape", s, 1);
  const auto st = list_attr(node, "strides", s, 1);
  const auto dl = list_attr(node, "dilations", s, 1);
  const auto pads = list_attr(node, "pads", 2 * s, 0);
  std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad.empty()) auto_pad = "NOTSET";
  const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  for (std::size_t d = 0; d < s; ++d) {
    const std::size_t k = off + d;
    g.in[k] = x[2 + d];
    g.kernel[k] = ks[d];
    g.stride[k] = st[d];
    g.dilation[k] = dl[d];
    if (ks[d] < 1 || st[d] < 1 || dl[d] < 1)
      throw OpError("kernel_shape, strides and dilations must be >= 1");
    const I64 span = (ks[d] - 1) * dl[d] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[k] = (g.in[k] + st[d] - 1) / st[d];
      const I64 total = std::max<I64>(0, (g.out[k] - 1) * st[d] + span - g.in[k]);
      g.pad_begin[k] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[k] = total - g.pad_begin[k];
    } else {
      if (auto_pad == "NOTSET") {
        g.pad_begin[k] = pads[d];
        g.pad_end[k] = pads[s + d];
      }
      const I64 room = g.in[k] + g.pad_begin[k] + g.pad_end[k] - span;
      if (room < 0) throw OpError("kernel does not fit padded input " + shape_str(x));
      g.out[k] = (ceil_mode ? (room + st[d] - 1) / st[d] : room / st[d]) + 1;
      // A window may not start in the end padding (the last one would see no input).
      if (ceil_mode && (g.out[k] - 1) * st[d] >= g.in[k] + g.pad_begin[k]) --g.out[k];
    }
  }
  return g;
}

Shape out_shape(const Shape& x, const PoolGeometry& g) {
  Shape s{x[0], x[1]};
  for (int d = 3 - g.spatial; d < 3; ++d) s.push_back(g.out[static_cast<std::size_t>(d)]);
  return s;
}

// Kernel taps k with start + k * dil in [lo, hi).
I64 taps_inside(I64 start, I64 k, I64 dil, I64 lo, I64 hi) {
  I64 n = 0;
  for (I64 t = 0; t < k; ++t) n += (start + t * dil >= lo && start + t * dil < hi);
  return n;
}

enum class Mode { Max, AvgExcludePad, AvgIncludePad };

// Pools one plane. Max takes the max of the in-bounds taps, Avg the mean over in-bounds taps
// or over all taps inside the padded extent (count_include_pad).
template <class T>
void pool_plane(const PoolGeometry& g, Mode mode, const T* x, T* y, std::vector<T>& row,
                const std::vector<I64>& hcount) {
  const bool is_max = mode == Mode::Max;
  const T ident = is_max ? std::numeric_limits<T>::lowest() : T(0);
  const I64 D = g.in[0], H = g.in[1], W = g.in[2], OW = g.out[2];
  const I64 pw = g.pad_begin[2], sw = g.stride[2], dw = g.dilation[2], KW = g.kernel[2];
  T* r = row.data();  // r[pw + iw] holds input column iw; the margins hold ident
  for (I64 od = 0; od < g.out[0]; ++od)
    for (I64 oh = 0; oh < g.out[1]; ++oh) {
      const I64 d0 = od * g.stride[0] - g.pad_begin[0], h0 = oh * g.stride[1] - g.pad_begin[1];
      std::fill(r + pw, r + pw + W, ident);
      I64 vcount = 0;
      for (I64 kd = 0; kd < g.kernel[0]; ++kd) {
        const I64 id = d0 + kd * g.dilation[0];
        if (id < 0 || id >= D) continue;
        for (I64 kh = 0; kh < g.kernel[1]; ++kh) {
          const I64 ih = h0 + kh * g.dilation[1];
          if (ih < 0 || ih >= H) continue;
          const T* src = x + (id * H + ih) * W;
          ++vcount;
          if (is_max)
            for (I64 w = 0; w < W; ++w) r[pw + w] = std::max(r[pw + w], src[w]);
          else
            for (I64 w = 0; w < W; ++w) r[pw + w] += src[w];
        }
      }
      if (mode == Mode::AvgIncludePad)
        vcount = taps_inside(d0, g.kernel[0], g.dilation[0], -g.pad_begin[0], D + g.pad_end[0]) *
                 taps_inside(h0, g.kernel[1], g.dilation[1], -g.pad_begin[1], H + g.pad_end[1]);
      // Horizontal pass tap by tap over the whole output row (vectorizes for strides 1, 2).
      T* yr = y + (od * g.out[1] + oh) * OW;
      for (I64 kw = 0; kw < KW; ++kw) {
        const T* base = r + kw * dw;
        if (kw == 0) {
          if (sw == 1)
            std::copy(base, base + OW, yr);
          else if (sw == 2)
            for (I64 ow = 0; ow < OW; ++ow) yr[ow] = base[2 * ow];
          else
            for (I64 ow = 0; ow < OW; ++ow) yr[ow] = base[ow * sw];
        } else if (is_max) {
          if (sw == 1)
            for (I64 ow = 0; ow < OW; ++ow) yr[ow] = std::max(yr[ow], base[ow]);
          else if (sw == 2)
            for (I64 ow = 0; ow < OW; ++ow) yr[ow] = std::max(yr[ow], base[2 * ow]);
          else
            for (I64 ow = 0; ow < OW; ++ow) yr[ow] = std::max(yr[ow], base[ow * sw]);
        } else {
          if (sw == 1)
            for (I64 ow = 0; ow < OW; ++ow) yr[ow] += base[ow];
          else if (sw == 2)
            for (I64 ow = 0; ow < OW; ++ow) yr[ow] += base[2 * ow];
          else
            for (I64 ow = 0; ow < OW; ++ow) yr[ow] += base[ow * sw];
        }
      }
      if (!is_max)
        for (I64 ow = 0; ow < OW; ++ow) {
          const I64 n = vcount * hcount[static_cast<std::size_t>(ow)];
          yr[ow] = n > 0 ? yr[ow] / static_cast<T>(n) : T(0);
        }
    }
}

#if defined(__AVX512F__)
// Float pooling of one plane with AVX-512: the same two passes as pool_plane, but every row
// operation is a run of (masked) 16-lane ops, since feature-map rows are short (7..56) and
// scalar remainder loops would dominate. Strides 1 and 2 only (2 deinterleaves with a permute).
// `r` has room for the padded row plus 48 floats of slack, all margins holding the identity.
void pool_plane_f32(const PoolGeometry& g, Mode mode, const float* x, float* y, float* r,
                    const float* hcount) {
  const bool is_max = mode == Mode::Max;
  const __m512 ident = _mm512_set1_ps(is_max ? std::numeric_limits<float>::lowest() : 0.0f);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const I64 D = g.in[0], H = g.in[1], W = g.in[2], OW = g.out[2];
  const I64 pw = g.pad_begin[2], sw = g.stride[2], dw = g.dilation[2], KW = g.kernel[2];
  const auto tail = [](I64 n) { return static_cast<__mmask16>(n >= 16 ? 0xffff : (1u << n) - 1u); };
  // (maskz form: GCC 12's _mm512_max_ps trips -Wmaybe-uninitialized on its undefined source)
  const auto combine = [&](__m512 a, __m512 b) {
    return is_max ? _mm512_maskz_max_ps(0xffff, a, b) : _mm512_add_ps(a, b);
  };
  float* rp = r + pw;
  for (I64 od = 0; od < g.out[0]; ++od)
    for (I64 oh = 0; oh < g.out[1]; ++oh) {
      const I64 d0 = od * g.stride[0] - g.pad_begin[0], h0 = oh * g.stride[1] - g.pad_begin[1];
      // The rows that two output rows ahead will add, where they lie inside the plane.
      const I64 ahead0 = h0 + (g.kernel[1] - 1) * g.dilation[1] + 1 + g.stride[1];
      const I64 ahead1 = std::min(ahead0 + g.stride[1], H);
      if (ahead0 >= 0 && ahead0 < ahead1)
        prefetch_plane(x + (std::clamp<I64>(d0, 0, D - 1) * H + ahead0) * W, (ahead1 - ahead0) * W);
      I64 vcount = 0;
      for (I64 kd = 0; kd < g.kernel[0]; ++kd) {
        const I64 id = d0 + kd * g.dilation[0];
        if (id < 0 || id >= D) continue;
        for (I64 kh = 0; kh < g.kernel[1]; ++kh) {
          const I64 ih = h0 + kh * g.dilation[1];
          if (ih < 0 || ih >= H) continue;
          const float* src = x + (id * H + ih) * W;
          for (I64 j = 0; j < W; j += 16) {
            const __mmask16 m = tail(W - j);
            const __m512 v = _mm512_maskz_loadu_ps(m, src + j);
            _mm512_mask_storeu_ps(rp + j, m, vcount ? combine(_mm512_loadu_ps(rp + j), v) : v);
          }
          ++vcount;
        }
      }
      if (vcount == 0)
        for (I64 j = 0; j < W; j += 16) _mm512_mask_storeu_ps(rp + j, tail(W - j), ident);
      float scale = 1.0f;
      if (mode == Mode::AvgIncludePad)
        vcount = taps_inside(d0, g.kernel[0], g.dilation[0], -g.pad_begin[0], D + g.pad_end[0]) *
                 taps_inside(h0, g.kernel[1], g.dilation[1], -g.pad_begin[1], H + g.pad_end[1]);
      if (!is_max) scale = vcount > 0 ? 1.0f / static_cast<float>(vcount) : 0.0f;
      float* yr = y + (od * g.out[1] + oh) * OW;
      for (I64 ow = 0; ow < OW; ow += 16) {
        __m512 acc = ident;
        for (I64 kw = 0; kw < KW; ++kw) {
          const float* b = r + ow * sw + kw * dw;
          const __m512 v =
              sw == 1 ? _mm512_loadu_ps(b)
                      : _mm512_permutex2var_ps(_mm512_loadu_ps(b), even, _mm512_loadu_ps(b + 16));
          acc = kw == 0 ? v : combine(acc, v);
        }
        if (!is_max)
          acc = _mm512_mul_ps(_mm512_div_ps(acc, _mm512_loadu_ps(hcount + ow)),
                              _mm512_set1_ps(scale));
        _mm512_mask_storeu_ps(yr + ow, tail(OW - ow), acc);
      }
    }
}

// The ubiquitous 2x2 / stride 2 / no padding max pool (small CNNs): two input rows, a vertical
// max, then even / odd lanes of 32 columns folded with a permute. No per-row bookkeeping.
bool is_max2x2(const PoolGeometry& g, Mode mode) {
  return mode == Mode::Max && g.spatial == 2 && g.kernel[1] == 2 && g.kernel[2] == 2 &&
         g.stride[1] == 2 && g.stride[2] == 2 && g.dilation[1] == 1 && g.dilation[2] == 1 &&
         g.pad_begin[1] == 0 && g.pad_begin[2] == 0 && g.out[1] * 2 <= g.in[1] &&
         g.out[2] * 2 <= g.in[2];
}

void max2x2_plane(const PoolGeometry& g, const float* x, float* y) {
  const I64 W = g.in[2], OW = g.out[2];
  const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const auto mx = [](__m512 a, __m512 b) { return _mm512_maskz_max_ps(0xffff, a, b); };
  for (I64 oh = 0; oh < g.out[1]; ++oh) {
    const float* r0 = x + 2 * oh * W;
    const float* r1 = r0 + W;
    if (2 * oh + 6 <= g.in[1]) prefetch_plane(r0 + 4 * W, 2 * W);  // as in pool_plane_f32
    float* yr = y + oh * OW;
    for (I64 ow = 0; ow < OW; ow += 16) {
      const I64 n = std::min<I64>(16, OW - ow);  // outputs; inputs 2n
      const auto m_lo = static_cast<__mmask16>(n >= 8 ? 0xffff : (1u << (2 * n)) - 1u);
      const auto m_hi = static_cast<__mmask16>(n <= 8 ? 0 : (1u << (2 * n - 16)) - 1u);
      const __m512 a =
          mx(_mm512_maskz_loadu_ps(m_lo, r0 + 2 * ow), _mm512_maskz_loadu_ps(m_lo, r1 + 2 * ow));
      const __m512 b = mx(_mm512_maskz_loadu_ps(m_hi, r0 + 2 * ow + 16),
                          _mm512_maskz_loadu_ps(m_hi, r1 + 2 * ow + 16));
      const __m512 v = mx(_mm512_permutex2var_ps(a, ev, b), _mm512_permutex2var_ps(a, od, b));
      _mm512_mask_storeu_ps(yr + ow, static_cast<__mmask16>((1u << n) - 1u), v);
    }
  }
}
#endif

template <class T>
void pool(const PoolGeometry& g, Mode mode, const T* x, T* y) {
  const I64 W = g.in[2], OW = g.out[2], pw = g.pad_begin[2];
  // Row buffer long enough for every tap of the last window, ceil_mode overhang included.
  const I64 len = std::max(pw + W, (OW - 1) * g.stride[2] + (g.kernel[2] - 1) * g.dilation[2] + 1);
  std::vector<I64> hcount(static_cast<std::size_t>(OW));
  for (I64 ow = 0; ow < OW; ++ow) {
    const I64 w0 = ow * g.stride[2] - pw;
    hcount[static_cast<std::size_t>(ow)] =
        mode == Mode::AvgIncludePad
            ? taps_inside(w0, g.kernel[2], g.dilation[2], -pw, W + g.pad_end[2])
            : taps_inside(w0, g.kernel[2], g.dilation[2], 0, W);
  }
  const I64 in_pix = g.in_pixels(), out_pix = g.out_pixels();
  const I64 work = std::max<I64>(1, out_pix * g.kernel[0] * g.kernel[1] * g.kernel[2]);
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (is_max2x2(g, mode)) {
      tbb::parallel_for(tbb::blocked_range<I64>(0, g.planes, std::max<I64>(1, 32768 / work)),
                        [&](const tbb::blocked_range<I64>& rg) {
                          for (I64 p = rg.begin(); p != rg.end(); ++p)
                            max2x2_plane(g, x + p * in_pix, y + p * out_pix);
                        });
      return;
    }
    if (g.stride[2] <= 2) {
      // hcount as floats, padded so 16-lane loads past OW stay inside (divisor 1).
      std::vector<float> hc(static_cast<std::size_t>(OW + 16), 1.0f);
      for (I64 ow = 0; ow < OW; ++ow) {
        const I64 c = hcount[static_cast<std::size_t>(ow)];
        hc[static_cast<std::size_t>(ow)] = c > 0 ? static_cast<float>(c) : 1.0f;
      }
      const I64 buf = len + 64;
      tbb::parallel_for(
          tbb::blocked_range<I64>(0, g.planes, std::max<I64>(1, 32768 / work)),
          [&](const tbb::blocked_range<I64>& rg) {
            std::vector<float> row(static_cast<std::size_t>(buf),
                                   mode == Mode::Max ? std::numeric_limits<float>::lowest() : 0.0f);
            for (I64 p = rg.begin(); p != rg.end(); ++p)
              pool_plane_f32(g, mode, x + p * in_pix, y + p * out_pix, row.data(), hc.data());
          });
      return;
    }
  }
#endif
  tbb::parallel_for(tbb::blocked_range<I64>(0, g.planes, std::max<I64>(1, 32768 / work)),
                    [&](const tbb::blocked_range<I64>& rg) {
                      const T ident = mode == Mode::Max ? std::numeric_limits<T>::lowest() : T(0);
                      std::vector<T> row(static_cast<std::size_t>(len), ident);
                      for (I64 p = rg.begin(); p != rg.end(); ++p)
                        pool_plane(g, mode, x + p * in_pix, y + p * out_pix, row, hcount);
                    });
}

// MaxPool with the Indices output: flat input positions, row- or column-major in the plane.
template <class T>
void maxpool_indices(const PoolGeometry& g, bool col_major, const T* x, T* y, I64* idx) {
  const I64 in_pix = g.in_pixels(), out_pix = g.out_pixels();
  // Plane strides of (d, h, w) in the requested order; unused leading dims have size 1.
  const int off = 3 - g.spatial;
  Arr3 st{g.in[1] * g.in[2], g.in[2], 1};
  if (col_major) {
    I64 s = 1;
    for (int d = off; d < 3; ++d) {
      st[static_cast<std::size_t>(d)] = s;
      s *= g.in[static_cast<std::size_t>(d)];
    }
  }
  tbb::parallel_for(I64{0}, g.planes, [&](I64 p) {
    const T* xp = x + p * in_pix;
    for (I64 o = 0; o < out_pix; ++o) {
      const Arr3 oc{o / (g.out[1] * g.out[2]), o / g.out[2] % g.out[1], o % g.out[2]};
      T best = std::numeric_limits<T>::lowest();
      I64 best_at = 0;
      bool found = false;
      for (I64 kd = 0; kd < g.kernel[0]; ++kd)
        for (I64 kh = 0; kh < g.kernel[1]; ++kh)
          for (I64 kw = 0; kw < g.kernel[2]; ++kw) {
            const Arr3 k{kd, kh, kw};
            Arr3 ic{};
            bool inside = true;
            for (std::size_t d = 0; d < 3; ++d) {
              ic[d] = oc[d] * g.stride[d] + k[d] * g.dilation[d] - g.pad_begin[d];
              inside = inside && ic[d] >= 0 && ic[d] < g.in[d];
            }
            if (!inside) continue;
            const T v = xp[(ic[0] * g.in[1] + ic[1]) * g.in[2] + ic[2]];
            if (!found || v > best) {
              best = v;
              best_at = ic[0] * st[0] + ic[1] * st[1] + ic[2] * st[2];
              found = true;
            }
          }
      y[p * out_pix + o] = best;
      idx[p * out_pix + o] = p * in_pix + best_at;
    }
  });
}

void maxpool_kernel(const OpContext& ctx, std::span<const Tensor* const> in,
                    std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "X");
  const PoolGeometry g = pool_geometry(ctx.node, x.shape);
  Tensor& y = out[0];
  if (x.is_float()) {
    shape_float_output(y, out_shape(x.shape, g));
  } else {
    y.dtype = DType::Int64;
    y.allocate(out_shape(x.shape, g));
  }
  const bool want_idx =
      out.size() > 1 && ctx.node.outputs.size() > 1 && !ctx.node.outputs[1].empty();
  if (want_idx) {
    Tensor& idx = out[1];
    idx.dtype = DType::Int64;
    idx.allocate(y.shape);
    const bool cm = ctx.node.attr_int("storage_order", 0) != 0;
    if (x.is_float())
      maxpool_indices(g, cm, x.f.data(), y.f.data(), idx.i.data());
    else
      maxpool_indices(g, cm, x.i.data(), y.i.data(), idx.i.data());
  } else if (x.is_float()) {
    pool(g, Mode::Max, x.f.data(), y.f.data());
  } else {
    pool(g, Mode::Max, x.i.data(), y.i.data());
  }
}

void avgpool_kernel(const OpContext& ctx, std::span<const Tensor* const> in,
                    std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "X");
  if (!x.is_float()) throw OpError("AveragePool supports float tensors only");
  const PoolGeometry g = pool_geometry(ctx.node, x.shape);
  Tensor& y = out[0];
  shape_float_output(y, out_shape(x.shape, g));
  const Mode mode =
      ctx.node.attr_int("count_include_pad", 0) != 0 ? Mode::AvgIncludePad : Mode::AvgExcludePad;
  pool(g, mode, x.f.data(), y.f.data());
}

template <bool kMax>
void global_pool_kernel(const OpContext&, std::span<const Tensor* const> in,
                        std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "X");
  if (!x.is_float()) throw OpError("global pooling supports float tensors only");
  if (x.rank() < 3) throw OpError("input must have rank >= 3, got " + shape_str(x.shape));
  Shape ys(x.shape.size(), 1);
  ys[0] = x.shape[0];
  ys[1] = x.shape[1];
  Tensor& y = out[0];
  shape_float_output(y, ys);
  const I64 planes = x.shape[0] * x.shape[1], n = x.size() / std::max<I64>(1, planes);
  tbb::parallel_for(
      tbb::blocked_range<I64>(0, planes, std::max<I64>(1, 16384 / std::max<I64>(1, n))),
      [&](const tbb::blocked_range<I64>& r) {
        for (I64 p = r.begin(); p != r.end(); ++p) {
          const float* v = x.f.data() + p * n;
          float r;
          if (kMax) {
            r = n > 0 ? v[0] : 0.0f;
            for (I64 k = 1; k < n; ++k) r = std::max(r, v[k]);
          } else {
            // Eight partial sums (one vector of doubles), added up in a fixed order: a single
            // chain of dependent double adds made this latency-bound.
            double part[8] = {};
            I64 k = 0;
            for (; k + 8 <= n; k += 8)
              for (int j = 0; j < 8; ++j) part[j] += v[k + j];
            for (int j = 0; k < n; ++k, ++j) part[j] += v[k];
            double sum = 0.0;
            for (const double s : part) sum += s;
            r = static_cast<float>(sum / static_cast<double>(n));
          }
          y.f[static_cast<std::size_t>(p)] = r;
        }
      });
}

std::optional<std::string> validate_pool(const OpNode& node, std::int64_t) {
  std::string a = node.attr_string("auto_pad", "NOTSET");
  if (!a.empty() && a != "NOTSET" && a != "SAME_UPPER" && a != "SAME_LOWER" && a != "VALID")
    return "unsupported auto_pad value '" + a + "'";
  if (!node.has_attr("kernel_shape")) return std::string("attribute kernel_shape is required");
  return std::nullopt;
}

// ---- Backward rules ----

// Each output's gradient goes to the input its window took the maximum from (the first on
// ties, as the forward kernel's Indices output and PyTorch pick).
void maxpool_grad(const GradContext& c) {
  const Tensor& x = require(c.inputs, 0, "X");
  const Tensor& dy = *c.out_grads[0];
  const PoolGeometry g = pool_geometry(c.node, x.shape);
  Tensor& dx = *c.in_grads[0];
  dx.dtype = DType::Float32;
  dx.allocate(x.shape);
  // A plane's outputs only reach its own inputs: planes in parallel, each in a fixed order.
  const I64 in_pix = g.in_pixels(), out_pix = g.out_pixels();
  tbb::parallel_for(I64{0}, g.planes, [&](I64 p) {
    const float* xp = x.f.data() + p * in_pix;
    const float* dyp = dy.f.data() + p * out_pix;
    float* dxp = dx.f.data() + p * in_pix;
    I64 o = 0;
    for (I64 od = 0; od < g.out[0]; ++od)
      for (I64 oh = 0; oh < g.out[1]; ++oh)
        for (I64 ow = 0; ow < g.out[2]; ++ow, ++o) {
          const I64 d0 = od * g.stride[0] - g.pad_begin[0];
          const I64 h0 = oh * g.stride[1] - g.pad_begin[1];
          const I64 w0 = ow * g.stride[2] - g.pad_begin[2];
          I64 best_at = -1;
          float best = 0.0f;
          for (I64 kd = 0; kd < g.kernel[0]; ++kd) {
            const I64 id = d0 + kd * g.dilation[0];
            if (id < 0 || id >= g.in[0]) continue;
            for (I64 kh = 0; kh < g.kernel[1]; ++kh) {
              const I64 ih = h0 + kh * g.dilation[1];
              if (ih < 0 || ih >= g.in[1]) continue;
              const I64 row = (id * g.in[1] + ih) * g.in[2];
              for (I64 kw = 0; kw < g.kernel[2]; ++kw) {
                const I64 iw = w0 + kw * g.dilation[2];
                if (iw < 0 || iw >= g.in[2]) continue;
                // The first maximum in window order, as the forward kernel's Indices and
                // PyTorch pick.
                if (best_at < 0 || xp[row + iw] > best) {
                  best = xp[row + iw];
                  best_at = row + iw;
                }
              }
            }
          }
          if (best_at >= 0) dxp[best_at] += dyp[o];
        }
  });
}

// Each output's gradient spread evenly over the taps its average counted.
void avgpool_grad(const GradContext& c) {
  const Tensor& x = require(c.inputs, 0, "X");
  const Tensor& dy = *c.out_grads[0];
  const PoolGeometry g = pool_geometry(c.node, x.shape);
  const bool include_pad = c.node.attr_int("count_include_pad", 0) != 0;
  Tensor& dx = *c.in_grads[0];
  dx.dtype = DType::Float32;
  dx.allocate(x.shape);
  std::fill(dx.f.begin(), dx.f.end(), 0.0f);
  const I64 in_pix = g.in_pixels(), out_pix = g.out_pixels();
  for (I64 p = 0; p < g.planes; ++p)
    for (I64 o = 0; o < out_pix; ++o) {
      const Arr3 oc{o / (g.out[1] * g.out[2]), o / g.out[2] % g.out[1], o % g.out[2]};
      Arr3 start{};
      I64 count = 1;
      for (std::size_t d = 0; d < 3; ++d) {
        start[d] = oc[d] * g.stride[d] - g.pad_begin[d];
        count *= include_pad ? taps_inside(start[d], g.kernel[d], g.dilation[d], -g.pad_begin[d],
                                           g.in[d] + g.pad_end[d])
                             : taps_inside(start[d], g.kernel[d], g.dilation[d], 0, g.in[d]);
      }
      if (count == 0) continue;
      const float share =
          dy.f[static_cast<std::size_t>(p * out_pix + o)] / static_cast<float>(count);
      for (I64 kd = 0; kd < g.kernel[0]; ++kd)
        for (I64 kh = 0; kh < g.kernel[1]; ++kh)
          for (I64 kw = 0; kw < g.kernel[2]; ++kw) {
            const I64 id = start[0] + kd * g.dilation[0], ih = start[1] + kh * g.dilation[1];
            const I64 iw = start[2] + kw * g.dilation[2];
            if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 || iw >= g.in[2])
              continue;
            dx.f[static_cast<std::size_t>(p * in_pix + (id * g.in[1] + ih) * g.in[2] + iw)] +=
                share;
          }
    }
}

template <bool kMax>
void global_pool_grad(const GradContext& c) {
  const Tensor& x = require(c.inputs, 0, "X");
  const Tensor& dy = *c.out_grads[0];
  Tensor& dx = *c.in_grads[0];
  dx.dtype = DType::Float32;
  dx.allocate(x.shape);
  const I64 planes = x.shape[0] * x.shape[1], n = x.size() / std::max<I64>(1, planes);
  for (I64 p = 0; p < planes; ++p) {
    float* d = dx.f.data() + p * n;
    const float* v = x.f.data() + p * n;
    const float g = dy.f[static_cast<std::size_t>(p)];
    if (kMax) {
      std::fill(d, d + n, 0.0f);
      if (n > 0) d[std::max_element(v, v + n) - v] = g;
    } else {
      std::fill(d, d + n, g / static_cast<float>(n));
    }
  }
}

// Traits. MaxPool only picks values, so it carries its input's format.
constexpr OpTraits kMaxPoolTraits{OpClass::Pooling, PlacementRole::DataMovement};
constexpr OpTraits kPool{OpClass::Pooling, PlacementRole::Compute};
constexpr OpTraits kAveragePool{
    OpClass::Pooling, PlacementRole::Compute, {.output_non_negative = non_negative_if_inputs_are}};

}  // namespace

void max_pool_2x2(const float* x, std::int64_t planes, std::int64_t H, std::int64_t W, float* y) {
  PoolGeometry g;
  g.planes = planes;
  g.in = {1, H, W};
  g.out = {1, H / 2, W / 2};
  g.kernel = {1, 2, 2};
  g.stride = {1, 2, 2};
  pool(g, Mode::Max, x, y);
}

void register_pool_ops(OpTable& t) {
  t.push_back({"MaxPool", kMaxPoolTraits, maxpool_kernel, validate_pool});
  t.back().backward = maxpool_grad;
  t.push_back({"AveragePool", kAveragePool, avgpool_kernel, validate_pool});
  t.back().backward = avgpool_grad;
  t.push_back({"GlobalAveragePool", kAveragePool, global_pool_kernel<false>, nullptr});
  t.back().backward = global_pool_grad<false>;
  t.push_back({"GlobalMaxPool", kPool, global_pool_kernel<true>, nullptr});
  t.back().backward = global_pool_grad<true>;
}

}  // namespace mpq
