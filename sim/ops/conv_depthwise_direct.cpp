// Depthwise Conv straight from the NCHW planes (AVX-512): output pixels in the 16 lanes, no
// padded copy, no transposes, every output written once.
//  - Flat mode (stride 1, output width == input width, as "same" padding gives): lanes run over
//    the flattened output plane and each kernel tap is the input plane at a fixed shift, read
//    with a masked load whose mask (one per vector and tap, computed once per call) drops the
//    lanes whose tap falls in the padding.
//  - Row mode (horizontal stride 1 or 2): lanes run over up to 16 columns of one output row;
//    two masked loads fetch the input row's 32-column window and one permute per kernel column
//    picks each lane's input column, so strided convs read every input row once per tap row.
//    Outputs of 8 columns or fewer put two rows in one vector.
// The sum runs bias first, then the taps in (kh, kw) order, as in the other depthwise paths.
#include "sim/ops/conv_common.hpp"

#if defined(__AVX512F__)

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include <tbb/parallel_for.h>

#include "sim/ops/conv_phase.hpp"

namespace mpq {
namespace {

using I64 = std::int64_t;
using convk::lanes_below;

// Lanes whose column c0 + lane lies in [0, w).
__mmask16 lanes_inside(I64 c0, I64 w) {
  return convk::lanes_between(-c0, w - c0);
}

constexpr I64 kMaxTaps = 49;  // up to 7x7 kernels

struct Taps {
  I64 count = 0;
  std::int32_t off[kMaxTaps];  // flat mode: input shift of each tap
};

// Flat mode over one plane: y[q] = bias + sum_t w[t] * x[q + off[t]] (masked).
void plane_flat(const Taps& taps, const __mmask16* masks, I64 nvec, I64 n, const float* x,
                const float* w, float bias, const float* clip, float* y) {
  const I64 T = taps.count;
  __m512 wv[kMaxTaps];
  for (I64 t = 0; t < T; ++t) wv[t] = _mm512_set1_ps(w[t]);
  const __m512 bv = _mm512_set1_ps(bias);
  I64 v = 0;
  // Four vectors at a time share each weight register.
  for (; v + 4 <= nvec; v += 4) {
    __m512 a0 = bv, a1 = bv, a2 = bv, a3 = bv;
    const __mmask16* m = masks + v * T;
    const float* xv = x + v * 16;
    for (I64 t = 0; t < T; ++t) {
      const float* p = xv + taps.off[t];
      a0 = _mm512_fmadd_ps(wv[t], _mm512_maskz_loadu_ps(m[t], p), a0);
      a1 = _mm512_fmadd_ps(wv[t], _mm512_maskz_loadu_ps(m[T + t], p + 16), a1);
      a2 = _mm512_fmadd_ps(wv[t], _mm512_maskz_loadu_ps(m[2 * T + t], p + 32), a2);
      a3 = _mm512_fmadd_ps(wv[t], _mm512_maskz_loadu_ps(m[3 * T + t], p + 48), a3);
    }
    if (clip) {
      const __m512 lo = _mm512_set1_ps(clip[0]), hi = _mm512_set1_ps(clip[1]);
      a0 = convk::clamp_ps(a0, lo, hi);
      a1 = convk::clamp_ps(a1, lo, hi);
      a2 = convk::clamp_ps(a2, lo, hi);
      a3 = convk::clamp_ps(a3, lo, hi);
    }
    float* yv = y + v * 16;
    _mm512_mask_storeu_ps(yv, lanes_below(n - v * 16), a0);
    _mm512_mask_storeu_ps(yv + 16, lanes_below(n - v * 16 - 16), a1);
    _mm512_mask_storeu_ps(yv + 32, lanes_below(n - v * 16 - 32), a2);
    _mm512_mask_storeu_ps(yv + 48, lanes_below(n - v * 16 - 48), a3);
  }
  for (; v < nvec; ++v) {
    __m512 a = bv;
    const __mmask16* m = masks + v * T;
    for (I64 t = 0; t < T; ++t)
      a = _mm512_fmadd_ps(wv[t], _mm512_maskz_loadu_ps(m[t], x + v * 16 + taps.off[t]), a);
    if (clip) a = convk::clamp_ps(a, _mm512_set1_ps(clip[0]), _mm512_set1_ps(clip[1]));
    _mm512_mask_storeu_ps(y + v * 16, lanes_below(n - v * 16), a);
  }
}

// Flat mode for 3x3 kernels (dilation 1): the 9 weights in registers. Vectors whose lanes all
// lie in rows 1 .. H-2 (`inner`, from vector v0 to v1) read every tap in place: kw = 1 with a
// plain load, kw = 0 and kw = 2 with the vector's two column masks (cm[2v], cm[2v+1]) held in
// registers; the other vectors take plane_flat's per-tap masks. The same sums, in the same order,
// as plane_flat: MobileNet's 14x14 depthwise conv 0.064 -> 0.038 ms at batch 8, its 7x7 one
// 0.030 -> 0.022 ms.
void plane_flat3x3(const Taps& taps, const __mmask16* masks, const __mmask16* cm, I64 v0, I64 v1,
                   I64 nvec, I64 n, const float* x, const float* w, float bias, const float* clip,
                   float* y) {
  constexpr int T = 9;
  __m512 wv[T];
  for (int t = 0; t < T; ++t) wv[t] = _mm512_set1_ps(w[t]);
  const __m512 bv = _mm512_set1_ps(bias);
  const I64 up = taps.off[1], down = taps.off[7];  // -W and +W
  const auto store = [&](I64 v, __m512 a) {
    if (clip) a = convk::clamp_ps(a, _mm512_set1_ps(clip[0]), _mm512_set1_ps(clip[1]));
    _mm512_mask_storeu_ps(y + v * 16, lanes_below(n - v * 16), a);
  };
  // Vectors v .. v + N - 1 with per-tap masks, as N accumulator chains at once (latency).
  const auto edges = [&]<int N>(I64 v) {
    __m512 a[N];
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k) a[k] = bv;
    const __mmask16* m = masks + v * T;
#pragma GCC unroll 9
    for (int t = 0; t < T; ++t) {
      const float* p = x + v * 16 + taps.off[t];
#pragma GCC unroll 4
      for (int k = 0; k < N; ++k)
        a[k] = _mm512_fmadd_ps(wv[t], _mm512_maskz_loadu_ps(m[k * T + t], p + 16 * k), a[k]);
    }
#pragma GCC unroll 4
    for (int k = 0; k < N; ++k) store(v + k, a[k]);
  };
  // Vectors [v, e), two at a time.
  const auto edge_run = [&](I64 v, I64 e) {
    for (; v + 1 < e; v += 2) edges.template operator()<2>(v);
    if (v < e) edges.template operator()<1>(v);
  };
  if (v1 - v0 < 2) {
    // Small planes (7x7: four vectors, none inner): four chains at once.
    I64 v = 0;
    for (; v + 4 <= nvec; v += 4) edges.template operator()<4>(v);
    edge_run(v, nvec);
    return;
  }
  const I64 e0 = std::min(v0, nvec);
  edge_run(0, e0);
  I64 v = e0;
  // Two vectors at a time: four masks in registers.
  for (; v + 2 <= v1; v += 2) {
    const __mmask16 l0 = cm[2 * v], r0 = cm[2 * v + 1], l1 = cm[2 * v + 2], r1 = cm[2 * v + 3];
    __m512 a0 = bv, a1 = bv;
    const float* c = x + v * 16;
    for (int kh = 0; kh < 3; ++kh) {
      const float* p = c + (kh == 0 ? up : kh == 1 ? 0 : down);
      a0 = _mm512_fmadd_ps(wv[3 * kh], _mm512_maskz_loadu_ps(l0, p - 1), a0);
      a1 = _mm512_fmadd_ps(wv[3 * kh], _mm512_maskz_loadu_ps(l1, p + 15), a1);
      a0 = _mm512_fmadd_ps(wv[3 * kh + 1], _mm512_loadu_ps(p), a0);
      a1 = _mm512_fmadd_ps(wv[3 * kh + 1], _mm512_loadu_ps(p + 16), a1);
      a0 = _mm512_fmadd_ps(wv[3 * kh + 2], _mm512_maskz_loadu_ps(r0, p + 1), a0);
      a1 = _mm512_fmadd_ps(wv[3 * kh + 2], _mm512_maskz_loadu_ps(r1, p + 17), a1);
    }
    store(v, a0);
    store(v + 1, a1);
  }
  edge_run(v, nvec);
}

// One chunk of output columns in row mode: its first input column and load / store masks.
struct RowChunk {
  I64 ow0, c0;
  __mmask16 lo, hi, store;
};

// One plane's pointers; row modes run NP planes side by side, so NP independent accumulator
// chains hide the FMA and permute latencies of short rows.
struct PlaneArgs {
  const float* x;
  const float* w;
  float bias;
  float* y;
};

// Part i, of `per` floats, of [next, next + n): the row modes spread the prefetch of the next
// group's planes over their own rows. Nothing when next is null. (`per` comes from the caller,
// computed once: a division per row cost the 28x28 stride-2 layer 0.050 -> 0.060 ms.)
void prefetch_part(const float* next, I64 n, I64 i, I64 per) {
  if (next && i * per < n) prefetch_plane(next + i * per, std::min(per, n - i * per));
}

// One kernel row kh for NP planes: a[q] += sum over kw of w_q[kh, kw] * the window lo[q]:hi[q]
// permuted by idx[kw].
template <int NP, int KWT>
void add_kernel_row(const PlaneArgs* pa, I64 kh, I64 kw_runtime, const __m512i* idx,
                    const __m512 (&lo)[NP], const __m512 (&hi)[NP], __m512 (&a)[NP]) {
  const I64 KW = KWT > 0 ? KWT : kw_runtime;
#pragma GCC unroll 4
  for (I64 kw = 0; kw < KW; ++kw)
    for (int q = 0; q < NP; ++q)
      a[q] = _mm512_fmadd_ps(_mm512_set1_ps(pa[q].w[kh * KW + kw]),
                             _mm512_permutex2var_ps(lo[q], idx[kw], hi[q]), a[q]);
}

// The fused clamp and the masked store of NP planes' accumulators at y + at.
template <int NP>
void clamp_store(const PlaneArgs* pa, I64 at, __mmask16 m, const float* clip, __m512 (&a)[NP]) {
  for (int q = 0; q < NP; ++q) {
    if (clip) a[q] = convk::clamp_ps(a[q], _mm512_set1_ps(clip[0]), _mm512_set1_ps(clip[1]));
    _mm512_mask_storeu_ps(pa[q].y + at, m, a[q]);
  }
}

template <int NP, int KWT>
void plane_rows(const ConvGeometry& g, const std::vector<RowChunk>& chunks, const __m512i* idx,
                const PlaneArgs* pa, const float* clip, const float* next, I64 next_n) {
  const I64 H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const I64 KH = g.kernel[1], KW = g.kernel[2];
  const I64 per = (next_n + OH - 1) / OH;
  for (I64 oh = 0; oh < OH; ++oh) {
    prefetch_part(next, next_n, oh, per);
    for (const RowChunk& ck : chunks) {
      __m512 a[NP];
      for (int q = 0; q < NP; ++q) a[q] = _mm512_set1_ps(pa[q].bias);
      for (I64 kh = 0; kh < KH; ++kh) {
        const I64 ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
        if (ih < 0 || ih >= H) continue;  // a padding row adds zeros
        __m512 lo[NP], hi[NP];
        for (int q = 0; q < NP; ++q) {
          const float* row = pa[q].x + ih * W + ck.c0;
          lo[q] = _mm512_maskz_loadu_ps(ck.lo, row);
          hi[q] = _mm512_maskz_loadu_ps(ck.hi, row + 16);
        }
        add_kernel_row<NP, KWT>(pa, kh, KW, idx, lo, hi, a);
      }
      clamp_store<NP>(pa, oh * OW + ck.ow0, ck.store, clip, a);
    }
  }
}

// Row mode for narrow outputs (2 * OW <= 16, each row's window within 16 columns): lanes
// [0, OW) hold output row oh and lanes [OW, 2 * OW) row oh + 1, which follows it in y; the
// permute's two sources are the two rows' windows.
template <int NP, int KWT>
void plane_row_pairs(const ConvGeometry& g, const RowChunk& ck, const __m512i* idx,
                     const PlaneArgs* pa, const float* clip, const float* next, I64 next_n) {
  const I64 H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const I64 KH = g.kernel[1], KW = g.kernel[2], sh = g.stride[1];
  const I64 per = (next_n + (OH + 1) / 2 - 1) / ((OH + 1) / 2);
  for (I64 oh = 0; oh < OH; oh += 2) {
    prefetch_part(next, next_n, oh / 2, per);
    __m512 a[NP];
    for (int q = 0; q < NP; ++q) a[q] = _mm512_set1_ps(pa[q].bias);
    for (I64 kh = 0; kh < KH; ++kh) {
      const I64 ih = oh * sh + kh * g.dilation[1] - g.pad_begin[1];
      const bool in_a = ih >= 0 && ih < H, in_b = oh + 1 < OH && ih + sh >= 0 && ih + sh < H;
      if (!in_a && !in_b) continue;
      __m512 lo[NP], hi[NP];
      for (int q = 0; q < NP; ++q) {
        const float* row = pa[q].x + ih * W + ck.c0;
        lo[q] = _mm512_maskz_loadu_ps(in_a ? ck.lo : 0, row);
        hi[q] = _mm512_maskz_loadu_ps(in_b ? ck.lo : 0, row + sh * W);
      }
      add_kernel_row<NP, KWT>(pa, kh, KW, idx, lo, hi, a);
    }
    clamp_store<NP>(pa, oh * OW, lanes_below(std::min<I64>(2, OH - oh) * OW), clip, a);
  }
}

}  // namespace

bool depthwise_direct(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                      float* y) {
  if (!g.planar() || g.out_channels % g.in_channels != 0) return false;
  const I64 H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  const I64 KH = g.kernel[1], KW = g.kernel[2], T = KH * KW;
  const I64 sw = g.stride[2], dw = g.dilation[2];
  if (T > kMaxTaps) return false;
  const bool flat = g.stride[1] == 1 && sw == 1 && OW == W;
  // Row mode: lanes l < cw read window columns sw * l + kw * dw <= 31.
  const I64 span = (KW - 1) * dw;
  if (!flat && (sw > 2 || span > 31)) return false;
  const I64 cw = flat ? 16 : std::min<I64>(16, (31 - span) / sw + 1);
  const bool pairs = !flat && 2 * OW <= 16 && sw * (OW - 1) + span <= 15;
  const I64 mult = g.out_channels / g.in_channels, in_pix = H * W, out_pix = OH * OW;
  const float clip_range[2] = {g.act_min, g.act_max};
  const float* clip = g.has_activation() ? clip_range : nullptr;

  Taps taps;
  std::vector<__mmask16> masks;
  const I64 nvec = (out_pix + 15) / 16;
  std::vector<RowChunk> chunks;
  __m512i idx[32];
  if (flat) {
    if (nvec * T > (I64{1} << 22)) return false;
    taps.count = T;
    for (I64 kh = 0; kh < KH; ++kh)
      for (I64 kw = 0; kw < KW; ++kw)
        taps.off[kh * KW + kw] = static_cast<std::int32_t>(
            (kh * g.dilation[1] - g.pad_begin[1]) * W + kw * dw - g.pad_begin[2]);
    masks.resize(static_cast<std::size_t>(nvec * T));
    // Output row and column stepped along the lanes from two divisions per vector: q / OW and
    // q % OW per lane (64-bit divisions) cost more than the conv on small planes.
    for (I64 v = 0; v < nvec; ++v) {
      const I64 oh0 = v * 16 / OW, ow0 = v * 16 % OW;
      for (I64 kh = 0; kh < KH; ++kh)
        for (I64 kw = 0; kw < KW; ++kw) {
          unsigned m = 0;
          I64 oh = oh0, ow = ow0;
          for (I64 l = 0; l < 16 && v * 16 + l < out_pix; ++l) {
            const I64 ih = oh + kh * g.dilation[1] - g.pad_begin[1];
            const I64 iw = ow + kw * dw - g.pad_begin[2];
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) m |= 1u << l;
            if (++ow == OW) {
              ow = 0;
              ++oh;
            }
          }
          masks[static_cast<std::size_t>(v * T + kh * KW + kw)] = static_cast<__mmask16>(m);
        }
    }
  } else if (pairs) {
    const I64 c0 = -g.pad_begin[2];
    chunks.push_back({0, c0, lanes_inside(c0, W), 0, lanes_below(2 * OW)});
    for (I64 kw = 0; kw < KW; ++kw) {
      alignas(64) std::int32_t id[16];
      for (I64 l = 0; l < 16; ++l)
        id[l] = static_cast<std::int32_t>(l < OW ? l * sw + kw * dw
                                                 : std::min<I64>(31, 16 + (l - OW) * sw + kw * dw));
      idx[kw] = _mm512_load_si512(id);
    }
  } else {
    for (I64 ow0 = 0; ow0 < OW; ow0 += cw) {
      const I64 c0 = ow0 * sw - g.pad_begin[2];
      chunks.push_back({ow0, c0, lanes_inside(c0, W), lanes_inside(c0 + 16, W),
                        lanes_below(std::min(cw, OW - ow0))});
    }
    for (I64 kw = 0; kw < KW; ++kw) {
      alignas(64) std::int32_t id[16];
      for (I64 l = 0; l < 16; ++l)
        id[l] = static_cast<std::int32_t>(std::min<I64>(31, l * sw + kw * dw));
      idx[kw] = _mm512_load_si512(id);
    }
  }

  // 3x3, padding 1, no dilation: plane_flat3x3, with each inner vector's two column masks.
  const bool flat3 = flat && KH == 3 && KW == 3 && H >= 3 && g.pad_begin[1] == 1 &&
                     g.pad_begin[2] == 1 && g.dilation[1] == 1 && dw == 1;
  std::vector<__mmask16> cm;
  const I64 v0 = (W + 15) / 16, v1 = (H - 1) * W / 16;
  if (flat3) {
    cm.resize(static_cast<std::size_t>(2 * nvec));
    for (I64 v = 0; v < nvec; ++v) {
      cm[static_cast<std::size_t>(2 * v)] = masks[static_cast<std::size_t>(v * T + 3)];
      cm[static_cast<std::size_t>(2 * v + 1)] = masks[static_cast<std::size_t>(v * T + 5)];
    }
  }
  const I64 planes = g.batch * g.out_channels;
  // About 32k multiply-adds per task keeps the scheduling cost small on tiny planes.
  const I64 grain = std::max<I64>(1, 32768 / std::max<I64>(1, out_pix * T));
  tbb::parallel_for(
      tbb::blocked_range<I64>(0, planes, grain), [&](const tbb::blocked_range<I64>& r) {
        const auto args = [&](I64 p) {
          const I64 n = p / g.out_channels, m = p % g.out_channels;
          return PlaneArgs{x + (n * g.in_channels + m / mult) * in_pix, w + m * T,
                           bias ? bias[m] : 0.0f, y + p * out_pix};
        };
        for (I64 p = r.begin(); p != r.end();) {
          if (flat3) {
            const PlaneArgs a = args(p++);
            plane_flat3x3(taps, masks.data(), cm.data(), v0, v1, nvec, out_pix, a.x, a.w, a.bias,
                          clip, a.y);
            continue;
          }
          if (flat) {
            const PlaneArgs a = args(p++);
            plane_flat(taps, masks.data(), nvec, out_pix, a.x, a.w, a.bias, clip, a.y);
            continue;
          }
          // Row modes: four planes at a time while the range has four, then one by one.
          const bool four = r.end() - p >= 4;
          PlaneArgs pa[4];
          for (int q = 0; q < (four ? 4 : 1); ++q) pa[q] = args(p + q);
          // The next four planes, prefetched over this group's rows: the input was just
          // written by the expand conv before, beyond L2 (MobileNet's 28x28 stride-2 layer:
          // 1.6 MB at batch 8; 0.051 -> 0.049 ms).
          const float* next = nullptr;
          I64 next_n = 0;
          if (four && mult == 1 && p + 8 <= planes) {
            next = pa[3].x + in_pix;
            next_n = 4 * in_pix;
          }
          // 3-wide kernels unrolled (KW as a constant): MobileNet's stride-2 layer 0.062 ->
          // 0.051 ms (the kw loop kept its permutes' operands on the stack).
          if (pairs && four && KW == 3)
            plane_row_pairs<4, 3>(g, chunks[0], idx, pa, clip, next, next_n);
          else if (pairs && four)
            plane_row_pairs<4, 0>(g, chunks[0], idx, pa, clip, next, next_n);
          else if (pairs)
            plane_row_pairs<1, 0>(g, chunks[0], idx, pa, clip, nullptr, 0);
          else if (four && KW == 3)
            plane_rows<4, 3>(g, chunks, idx, pa, clip, next, next_n);
          else if (four)
            plane_rows<4, 0>(g, chunks, idx, pa, clip, next, next_n);
          else
            plane_rows<1, 0>(g, chunks, idx, pa, clip, nullptr, 0);
          p += four ? 4 : 1;
        }
      });
  return true;
}

}  // namespace mpq

#else

namespace mpq {
bool depthwise_direct(const ConvGeometry&, const float*, const float*, const float*, float*) {
  return false;
}
}  // namespace mpq

#endif
