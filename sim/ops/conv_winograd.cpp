// Winograd F(2x2, 3x3) conv (AVX-512) for dense 3x3 stride-1 convs (Lavin and Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016). Each 2x2 output tile comes from a 4x4
// input patch d:  Y = A^T [ (G g G^T) .* (B^T d B) ] A,  so the 36 multiply-adds per tile and
// channel pair become 16, at the price of transforms that are linear in the channel counts:
//   1. weights: U[xi] = (G g G^T)[xi] for each of the 16 positions xi, packed as the GEMM
//      micro-kernels' A panels (once per weight tensor when the engine keeps them: DerivedPanels);
//   2. inputs:  V[xi][c][t] = (B^T d B)[xi] of tile t, vectorized over 16 tiles of one tile
//      row (two masked loads and two permutes per patch row and column parity);
//   3. 16 products M[xi] = U[xi] V[xi] (mg x cg times cg x T) on the 8x48 micro-kernels;
//   4. outputs: A^T M A + bias (+ residual, clamp), interleaved back into output rows, or
//      with a folded 2x2 MaxPool each tile's max, one pooled value per tile.
// Tasks are runs of tile rows across the batch, about L2-sized, so T fills whole panels even
// on 7x7 maps. The transforms' coefficients are 0, +-1 and +-1/2: the float error stays within
// a few units of the direct sum's.
#include "sim/ops/conv_common.hpp"

#if defined(__AVX512F__)

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include <tbb/parallel_for.h>

#include "sim/ops/conv_micro.hpp"
#include "sim/ops/conv_phase.hpp"
#include "sim/ops/gemm_kernel.hpp"

namespace mpq::convk {
namespace {

constexpr int kXi = 16;  // transformed positions per tile

// (G g G^T) for one 3x3 kernel g (row-major), G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1], lane-wise.
void weight_transform(const __m512 (&g)[9], __m512 (&u)[kXi]) {
  const __m512 half = _mm512_set1_ps(0.5f);
  __m512 t[4][3];  // G g: 4 x 3
  for (int j = 0; j < 3; ++j) {
    const __m512 g0 = g[j], g1 = g[3 + j], g2 = g[6 + j];
    t[0][j] = g0;
    t[1][j] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(g0, g1), g2));
    t[2][j] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(g0, g1), g2));
    t[3][j] = g2;
  }
  for (int i = 0; i < 4; ++i) {
    const __m512 a = t[i][0], b = t[i][1], c = t[i][2];
    u[i * 4 + 0] = a;
    u[i * 4 + 1] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(a, b), c));
    u[i * 4 + 2] = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(a, b), c));
    u[i * 4 + 3] = c;
  }
}

// Up[xi] in pack_weights' layout (8-row panels, k-major, K = cg): 16 output channels (two
// panels) per step, their 9 taps gathered; a full panel's 8 rows of one channel are 8
// consecutive floats.
void transform_weights(const float* w, I64 mg, I64 cg, float* up) {
  const I64 blocks = (mg + 15) / 16;
  tbb::parallel_for(I64{0}, blocks, [&](I64 b) {
    const I64 m0 = b * 16, nm = std::min<I64>(16, mg - m0);
    const __mmask16 live = lanes_below(nm);
    const __m512i rows =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(static_cast<int>(cg * 9)));
    const bool full = nm == 16;  // both panels have 8 rows
    alignas(64) float lane[kXi][16];
    for (I64 c = 0; c < cg; ++c) {
      const float* base = w + (m0 * cg + c) * 9;
      __m512 g[9], u[kXi];
      for (int e = 0; e < 9; ++e)
        g[e] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, rows, base + e, 4);
      weight_transform(g, u);
      if (full) {
        for (int xi = 0; xi < kXi; ++xi) {
          float* p0 = up + (xi * mg + m0) * cg + c * kMR;
          _mm256_storeu_ps(p0, _mm512_castps512_ps256(u[xi]));
          _mm256_storeu_ps(p0 + kMR * cg,
                           _mm512_castps512_ps256(_mm512_shuffle_f32x4(u[xi], u[xi], 0xEE)));
        }
        continue;
      }
      for (int xi = 0; xi < kXi; ++xi) _mm512_store_ps(lane[xi], u[xi]);
      for (I64 l = 0; l < nm; ++l) {
        const I64 m = m0 + l, r = m / kMR * kMR, mr = std::min<I64>(kMR, mg - r);
        for (int xi = 0; xi < kXi; ++xi) up[(xi * mg + r) * cg + c * mr + (m - r)] = lane[xi][l];
      }
    }
  });
}

// Tile rows per vector in the transforms: narrow maps (TW <= 8) put up to 4 in one vector.
I64 per_vector(I64 TW) {
  return TW > 8 ? 1 : std::min<I64>(4, 16 / TW);
}

struct Plan {
  I64 TH, TW;  // tile rows and columns per image
  I64 units;   // tile rows per task
  I64 ldv;     // floats per row of V and M (T rounded up to 16)
  I64 cb, mb;  // input / output channels per block
  I64 tasks;
};

// T: the threads the tasks are shared among.
Plan make_plan(const ConvGeometry& g, I64 cg, I64 mg, I64 T) {
  Plan p{};
  p.TH = (g.out[1] + 1) / 2;
  p.TW = (g.out[2] + 1) / 2;
  // Input channels in blocks of up to 128 (the products' K), output channels likewise.
  p.cb = std::min<I64>(cg, 128);
  p.mb = std::min<I64>(mg, 128);
  // V and M of a task (16 x (cb + mb) x T floats) within about 256 KB, a quarter of L2 (the
  // layer's input and output stream through it too), and at least one 48-column panel of
  // tiles. Batch 8, one thread: ResNet layer2.conv2 0.330 -> 0.278 ms, layer3.conv2 0.246 ->
  // 0.227 ms, ResNet-18 274 -> 247 ms against 768 KB.
  const I64 budget = 256 * 1024 / (4 * kXi * (p.cb + p.mb));
  const I64 target = std::clamp<I64>(budget, kNR, 512);
  const I64 all = g.batch * p.TH;
  // A task per thread at least when the batch is small, but whole panels first: a product
  // of 16 or 32 columns runs on the 1- and 2-vector kernels at half speed. At least one
  // vector's worth of tile rows (see per_vector) when the batch has them.
  const I64 most =
      std::min(all, std::max(per_vector(p.TW), std::min(std::max<I64>(1, target / p.TW),
                                                        std::max<I64>(1, (all + T - 1) / T))));
  // Of up to half as many tile rows, the count whose tiles best fill the 48-column panels.
  p.units = most;
  double best = 0;
  for (I64 u = most; u >= std::max<I64>(1, most / 2); --u) {
    const I64 t = u * p.TW;
    const I64 padded = (t + kNR - 1) / kNR * kNR;  // whole panels
    const double fill = static_cast<double>(t) / static_cast<double>(padded);
    if (fill > best + 1e-9) best = fill, p.units = u;
  }
  p.tasks = (all + p.units - 1) / p.units;
  p.ldv = (p.units * p.TW + 15) / 16 * 16;
  return p;
}

// B^T d B of 16 tiles: `col` holds, per patch row i, the patch columns (d0, d1, d2, d3)
// already combined along the row (d0 - d2, d1 + d2, d2 - d1, d1 - d3); the row combination
// goes to V[xi] = vc + xi * xs (the lanes in `store`).
[[gnu::always_inline]] inline void store_input_transform(const __m512 (&col)[4][4], float* vc,
                                                         I64 xs, __mmask16 store) {
  for (int j = 0; j < 4; ++j) {
    _mm512_mask_storeu_ps(vc + (0 * 4 + j) * xs, store, _mm512_sub_ps(col[0][j], col[2][j]));
    _mm512_mask_storeu_ps(vc + (1 * 4 + j) * xs, store, _mm512_add_ps(col[1][j], col[2][j]));
    _mm512_mask_storeu_ps(vc + (2 * 4 + j) * xs, store, _mm512_sub_ps(col[2][j], col[1][j]));
    _mm512_mask_storeu_ps(vc + (3 * 4 + j) * xs, store, _mm512_sub_ps(col[1][j], col[3][j]));
  }
}

// One patch row's column combination (d B).
[[gnu::always_inline]] inline void combine_columns(__m512 d0, __m512 d1, __m512 d2, __m512 d3,
                                                   __m512 (&out)[4]) {
  out[0] = _mm512_sub_ps(d0, d2);
  out[1] = _mm512_add_ps(d1, d2);
  out[2] = _mm512_sub_ps(d2, d1);
  out[3] = _mm512_sub_ps(d1, d3);
}

// A^T M A + bias of 16 tiles (M[xi] = mm + xi * xs, lanes in `live`): y[a][b] is output row
// 2 ty + a, column 2 t + b.
[[gnu::always_inline]] inline void output_transform(const float* mm, I64 xs, __mmask16 live,
                                                    __m512 bias, __m512 (&y)[2][2]) {
  __m512 s[4][2];  // per row of M: (m0 + m1 + m2, m1 - m2 - m3)
  for (int i = 0; i < 4; ++i) {
    const __m512 a = _mm512_maskz_loadu_ps(live, mm + (i * 4 + 0) * xs);
    const __m512 b = _mm512_maskz_loadu_ps(live, mm + (i * 4 + 1) * xs);
    const __m512 c = _mm512_maskz_loadu_ps(live, mm + (i * 4 + 2) * xs);
    const __m512 d = _mm512_maskz_loadu_ps(live, mm + (i * 4 + 3) * xs);
    s[i][0] = _mm512_add_ps(_mm512_add_ps(a, b), c);
    s[i][1] = _mm512_sub_ps(_mm512_sub_ps(b, c), d);
  }
  for (int b = 0; b < 2; ++b) {
    y[0][b] = _mm512_add_ps(bias, _mm512_add_ps(_mm512_add_ps(s[0][b], s[1][b]), s[2][b]));
    y[1][b] = _mm512_add_ps(bias, _mm512_sub_ps(_mm512_sub_ps(s[1][b], s[2][b]), s[3][b]));
  }
}

// The max of a tile's four outputs, clamped (the clamp commutes with the max): one 2x2
// stride-2 max pool window per tile, so a folded MaxPool costs one max per output.
__m512 pooled_tile(const __m512 (&yt)[2][2], const float* clip, __m512 lo, __m512 hi) {
  const auto mx = [](__m512 a, __m512 b) { return _mm512_maskz_max_ps(0xffff, a, b); };
  const __m512 v = mx(mx(yt[0][0], yt[0][1]), mx(yt[1][0], yt[1][1]));
  return clip ? clamp_ps(v, lo, hi) : v;
}

// Channels ahead whose patch rows transform_inputs prefetches. A layer's input is mostly
// beyond L2 (ResNet-18's 56x56 maps: 6.4 MB at batch 8), read as 4-row strips of 64 to 128
// planes, which the hardware prefetchers do not follow: layer1's convs 8.5 -> 7.0 ms, the
// whole net 128 -> 120 ms (batch 8, one thread).
constexpr I64 kAhead = 4;

// Prefetches rows [r0, r1) of a plane of `rows` rows of W floats, clamped to the plane.
void prefetch_rows(const float* plane, I64 r0, I64 r1, I64 rows, I64 W) {
  r0 = std::max<I64>(0, r0);
  r1 = std::min(rows, r1);
  if (r1 > r0) prefetch_plane(plane + r0 * W, (r1 - r0) * W);
}

// Input transform of one tile row: V[xi][c][t0 + j] for its tiles j < TW, every channel.
void transform_inputs(const ConvGeometry& g, const Plan& p, const float* xn, I64 ty, I64 cg,
                      float* v, I64 t0) {
  const I64 H = g.in[1], W = g.in[2], pt = g.pad_begin[1], pl = g.pad_begin[2];
  const __m512i ev = even_lanes(), od = odd_lanes();
  for (I64 tx0 = 0; tx0 < p.TW; tx0 += 16) {
    const I64 nt = std::min<I64>(16, p.TW - tx0);
    const I64 c0 = 2 * tx0 - pl;  // input column of lane 0's patch column 0
    const __mmask16 m0 = lanes_between(-c0, W - c0), m1 = lanes_between(-c0 - 16, W - c0 - 16);
    const __mmask16 m2 = lanes_between(-c0 - 2, W - c0 - 2),
                    m3 = lanes_between(-c0 - 18, W - c0 - 18);
    const __mmask16 store = lanes_below(nt);
    for (I64 c = 0; c < cg; ++c) {
      const float* xc = xn + c * H * W;
      // The patch rows of the channel kAhead on (whole rows, so on the first pass only).
      if (tx0 == 0 && c + kAhead < cg)
        prefetch_rows(xc + kAhead * H * W, 2 * ty - pt, 2 * ty - pt + 4, H, W);
      __m512 r[4][4];  // per patch row: the column transform of (d0, d1, d2, d3)
      for (int i = 0; i < 4; ++i) {
        const I64 ih = 2 * ty + i - pt;
        if (ih < 0 || ih >= H) {
          for (int j = 0; j < 4; ++j) r[i][j] = _mm512_setzero_ps();
          continue;
        }
        const float* row = xc + ih * W + c0;
        const __m512 a = _mm512_maskz_loadu_ps(m0, row), b = _mm512_maskz_loadu_ps(m1, row + 16);
        const __m512 a2 = _mm512_maskz_loadu_ps(m2, row + 2),
                     b2 = _mm512_maskz_loadu_ps(m3, row + 18);
        const __m512 d0 = _mm512_permutex2var_ps(a, ev, b), d1 = _mm512_permutex2var_ps(a, od, b);
        const __m512 d2 = _mm512_permutex2var_ps(a2, ev, b2),
                     d3 = _mm512_permutex2var_ps(a2, od, b2);
        combine_columns(d0, d1, d2, d3, r[i]);
      }
      store_input_transform(r, v + c * p.ldv + t0 + tx0, cg * p.ldv, store);
    }
  }
}

// Output transform of one tile row for every output channel: A^T M A + bias, then the
// residual and the clamp, written to output rows 2 ty and 2 ty + 1. With a folded MaxPool
// (g.max_pool), each tile's max instead, tile t to column t of pooled row ty of yn (an odd
// last output row or column has none).
void transform_outputs(const ConvGeometry& g, const Plan& p, const float* mbuf, I64 ty, I64 mg,
                       I64 t0, const float* bias, const float* clip, const float* rn, float* yn) {
  const I64 OH = g.out[1], OW = g.out[2], N = g.out_pixels();
  const I64 PH = OH / 2, PW = OW / 2, PP = PH * PW;
  if (g.max_pool && ty >= PH) return;
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_idx =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 lo = _mm512_set1_ps(clip ? clip[0] : 0.0f),
               hi = _mm512_set1_ps(clip ? clip[1] : 0.0f);
  const I64 xs = mg * p.ldv;
  for (I64 tx0 = 0; tx0 < p.TW; tx0 += 16) {
    const I64 nt = std::min<I64>(16, p.TW - tx0);
    const __mmask16 live = lanes_below(nt);
    const I64 ow0 = 2 * tx0;
    const __mmask16 s0 = lanes_below(OW - ow0), s1 = lanes_below(OW - ow0 - 16);
    for (I64 m = 0; m < mg; ++m) {
      // The residual is the block's input, out of L2 by now: ResNet-18's layer1.x.conv2
      // 7.5 -> 7.0 ms (batch 8, one thread).
      if (rn && tx0 == 0 && m + kAhead < mg)
        prefetch_rows(rn + (m + kAhead) * N, 2 * ty, 2 * ty + 2, OH, OW);
      __m512 yt[2][2];
      output_transform(mbuf + m * p.ldv + t0 + tx0, xs, live, _mm512_set1_ps(bias ? bias[m] : 0.0f),
                       yt);
      if (g.max_pool) {
        _mm512_mask_storeu_ps(yn + m * PP + ty * PW + tx0, lanes_below(PW - tx0),
                              pooled_tile(yt, clip, lo, hi));
        continue;
      }
      for (int a = 0; a < 2; ++a) {
        const I64 oh = 2 * ty + a;
        if (oh >= OH) break;
        // Output columns 2t (yt[a][0]) and 2t + 1 (yt[a][1]), interleaved.
        __m512 v0 = _mm512_permutex2var_ps(yt[a][0], lo_idx, yt[a][1]);
        __m512 v1 = _mm512_permutex2var_ps(yt[a][0], hi_idx, yt[a][1]);
        const I64 at = m * N + oh * OW + ow0;
        if (rn) {
          v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(s0, rn + at));
          v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(s1, rn + at + 16));
        }
        if (clip) {
          v0 = clamp_ps(v0, lo, hi);
          v1 = clamp_ps(v1, lo, hi);
        }
        _mm512_mask_storeu_ps(yn + at, s0, v0);
        _mm512_mask_storeu_ps(yn + at + 16, s1, v1);
      }
    }
  }
}

// Narrow maps (TW <= 8 tiles per row) put up to 4 tile rows in one vector: lanes
// [s TW, (s + 1) TW) hold tile row s of the group. Permute indices for a pair of sources
// (rows s0, s0 + 1) at lane offset `at`; lanes outside the pair read index 0.
__m512i pair_index(I64 TW, I64 at, int parity) {
  alignas(64) std::int32_t id[16] = {};
  for (I64 t = 0; t < TW; ++t) {
    if (at + t < 16) id[at + t] = static_cast<std::int32_t>(2 * t + parity);
    if (at + TW + t < 16) id[at + TW + t] = static_cast<std::int32_t>(16 + 2 * t + parity);
  }
  return _mm512_load_si512(id);
}

struct RowGroup {
  int k = 1;               // tile rows in the group
  const float* x[4] = {};  // image of each row (input planes)
  I64 ty[4] = {};          // tile row in its image
};

struct RowIndex {
  __m512i even[2], odd[2];  // pairs (0, 1) and (2, 3)
  __mmask16 upper;          // lanes of rows 2 and 3
};

RowIndex row_index(I64 TW) {
  RowIndex r{};
  for (int q = 0; q < 2; ++q) {
    r.even[q] = pair_index(TW, 2 * q * TW, 0);
    r.odd[q] = pair_index(TW, 2 * q * TW, 1);
  }
  r.upper = lanes_between(2 * TW, 4 * TW);
  return r;
}

void transform_input_rows(const ConvGeometry& g, const Plan& p, const RowIndex& ri,
                          const RowGroup& rg, I64 cg, float* v, I64 t0) {
  const I64 H = g.in[1], W = g.in[2], pt = g.pad_begin[1], c0 = -g.pad_begin[2];
  const __mmask16 m0 = lanes_between(-c0, W - c0), m2 = lanes_between(-c0 - 2, W - c0 - 2);
  const __mmask16 store = lanes_below(rg.k * p.TW);
  const I64 xs = cg * p.ldv;
  for (I64 c = 0; c < cg; ++c) {
    // As in transform_inputs: ResNet-18's layer3 convs 6.8 -> 6.3 ms.
    if (c + kAhead < cg)
      for (int q = 0; q < rg.k; ++q)
        prefetch_rows(rg.x[q] + (c + kAhead) * H * W, 2 * rg.ty[q] - pt, 2 * rg.ty[q] - pt + 4, H,
                      W);
    __m512 r[4][4];
    for (int i = 0; i < 4; ++i) {
      __m512 a[4], a2[4];
      for (int q = 0; q < 4; ++q) {
        const I64 ih = 2 * rg.ty[q] + i - pt;
        if (q >= rg.k || ih < 0 || ih >= H) {
          a[q] = a2[q] = _mm512_setzero_ps();
          continue;
        }
        const float* row = rg.x[q] + (c * H + ih) * W + c0;
        a[q] = _mm512_maskz_loadu_ps(m0, row);
        a2[q] = _mm512_maskz_loadu_ps(m2, row + 2);
      }
      __m512 d0 = _mm512_permutex2var_ps(a[0], ri.even[0], a[1]);
      __m512 d1 = _mm512_permutex2var_ps(a[0], ri.odd[0], a[1]);
      __m512 d2 = _mm512_permutex2var_ps(a2[0], ri.even[0], a2[1]);
      __m512 d3 = _mm512_permutex2var_ps(a2[0], ri.odd[0], a2[1]);
      if (rg.k > 2) {
        d0 = _mm512_mask_blend_ps(ri.upper, d0, _mm512_permutex2var_ps(a[2], ri.even[1], a[3]));
        d1 = _mm512_mask_blend_ps(ri.upper, d1, _mm512_permutex2var_ps(a[2], ri.odd[1], a[3]));
        d2 = _mm512_mask_blend_ps(ri.upper, d2, _mm512_permutex2var_ps(a2[2], ri.even[1], a2[3]));
        d3 = _mm512_mask_blend_ps(ri.upper, d3, _mm512_permutex2var_ps(a2[2], ri.odd[1], a2[3]));
      }
      combine_columns(d0, d1, d2, d3, r[i]);
    }
    store_input_transform(r, v + c * p.ldv + t0, xs, store);
  }
}

// Output transform of a row group: row s's tiles interleaved (columns 2t, 2t + 1) into one
// output row segment of 2 TW <= 16 columns. With a folded MaxPool (g.max_pool), each tile's max
// instead, row q's tiles (lanes q TW + t) into pooled row ty[q] of yrow[q].
void transform_output_rows(const ConvGeometry& g, const Plan& p, const RowGroup& rg,
                           float* const* yrow, const float* const* rrow, const float* mbuf, I64 mg,
                           I64 t0, const float* bias, const float* clip) {
  const I64 OH = g.out[1], OW = g.out[2], N = g.out_pixels();
  const __mmask16 live = lanes_below(rg.k * p.TW), out = lanes_below(OW);
  __m512i inter[4];
  for (int q = 0; q < rg.k; ++q) {
    alignas(64) std::int32_t id[16] = {};
    for (I64 t = 0; t < p.TW; ++t) {
      id[2 * t] = static_cast<std::int32_t>(q * p.TW + t);
      id[2 * t + 1] = static_cast<std::int32_t>(16 + q * p.TW + t);
    }
    inter[q] = _mm512_load_si512(id);
  }
  const I64 PH = OH / 2, PW = OW / 2, PP = PH * PW;
  const __mmask16 pooled = lanes_below(PW);
  __m512i from[4];
  for (int q = 0; q < rg.k; ++q)
    from[q] =
        _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(q * p.TW)));
  const __m512 lo = _mm512_set1_ps(clip ? clip[0] : 0.0f),
               hi = _mm512_set1_ps(clip ? clip[1] : 0.0f);
  const I64 xs = mg * p.ldv;
  for (I64 m = 0; m < mg; ++m) {
    if (m + kAhead < mg)  // as in transform_outputs: layer3.x.conv2 6.3 -> 6.1 ms
      for (int q = 0; q < rg.k; ++q)
        if (rrow[q])
          prefetch_rows(rrow[q] + (m + kAhead) * N, 2 * rg.ty[q], 2 * rg.ty[q] + 2, OH, OW);
    __m512 yt[2][2];
    output_transform(mbuf + m * p.ldv + t0, xs, live, _mm512_set1_ps(bias ? bias[m] : 0.0f), yt);
    if (g.max_pool) {
      const __m512 v = pooled_tile(yt, clip, lo, hi);
      for (int q = 0; q < rg.k; ++q)
        if (rg.ty[q] < PH)
          _mm512_mask_storeu_ps(yrow[q] + m * PP + rg.ty[q] * PW, pooled,
                                _mm512_permutexvar_ps(from[q], v));
      continue;
    }
    for (int a = 0; a < 2; ++a) {
      for (int q = 0; q < rg.k; ++q) {
        const I64 oh = 2 * rg.ty[q] + a;
        if (oh >= OH) continue;
        const I64 at = m * N + oh * OW;
        __m512 v = _mm512_permutex2var_ps(yt[a][0], inter[q], yt[a][1]);
        if (rrow[q]) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(out, rrow[q] + at));
        if (clip) v = clamp_ps(v, lo, hi);
        _mm512_mask_storeu_ps(yrow[q] + at, out, v);
      }
    }
  }
}

// The shapes this path computes: dense 2-D 3x3 convs, stride 1, no dilation.
bool winograd_fits(const ConvGeometry& g) {
  return g.planar() && g.group == 1 && g.kernel[1] == 3 && g.kernel[2] == 3 && g.stride[1] == 1 &&
         g.stride[2] == 1 && g.dilation[1] == 1 && g.dilation[2] == 1 && g.in_channels > 0 &&
         g.out_channels > 0;
}

}  // namespace

bool winograd_suits(const ConvGeometry& g) {
  const I64 cg = g.in_channels, mg = g.out_channels;
  if (!winograd_fits(g) || cg < 32 || mg < 32 || cg > 256 || mg > 256) return false;
  // Measured against the packed and implicit paths (ResNet, ResNet-18 and the cnn's layers),
  // batch 32: ahead from 32 to 256 channels (ResNet-18 layer2 21 vs 33 ms, layer3 24 vs 32 ms);
  // behind at 512 (layer4, 7x7: 38 vs 37 ms: its inputs are transformed once per 128 output
  // channels, and M accumulates over four input blocks). Layers past 128 output channels also
  // need two or more tasks per thread (at batch 8 they get fewer and fall behind).
  // Judged for a fixed 2 threads, not this machine's: the paths round differently, and the
  // same inputs must give the same outputs on any machine.
  constexpr I64 kJudgeThreads = 2;
  return mg <= 128 || make_plan(g, cg, mg, kJudgeThreads).tasks >= 2 * kJudgeThreads;
}

bool conv_winograd(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                   float* y) {
  if (!winograd_fits(g)) return false;
  const I64 cg = g.in_channels, mg = g.out_channels;
  const Plan p = make_plan(g, cg, mg, gemm::num_threads());
  const DerivedPanels up(g, w, {mg, cg, 0}, kPanelsWinograd,
                         static_cast<std::size_t>(kXi * mg * cg),
                         [&](float* dst) { transform_weights(w, mg, cg, dst); });
  const float clip_range[2] = {g.act_min, g.act_max};
  const float* clip = g.has_activation() ? clip_range : nullptr;
  const I64 in_pix = g.in_pixels(), in_image = cg * in_pix;
  const I64 out_pix = g.out_pixels(), out_image = mg * out_pix;
  // y's planes: pooled ones with a folded MaxPool (the residual never comes with one).
  const I64 y_pix = g.max_pool ? (g.out[1] / 2) * (g.out[2] / 2) : out_pix, y_image = mg * y_pix;
  const I64 all = g.batch * p.TH;
  const I64 per = per_vector(p.TW);
  const RowIndex ri = row_index(p.TW);
  tbb::parallel_for(tbb::blocked_range<I64>(0, p.tasks, 1), [&](const tbb::blocked_range<I64>& r) {
    for (I64 task = r.begin(); task != r.end(); ++task) {
      const I64 u0 = task * p.units, u1 = std::min(all, u0 + p.units);
      const I64 T = (u1 - u0) * p.TW;
      float* v = gemm::thread_scratch(static_cast<std::size_t>(kXi * p.cb * p.ldv + 16));
      float* mb = gemm::thread_scratch(static_cast<std::size_t>(kXi * p.mb * p.ldv + 16), 1);
      // A group of up to `per` tile rows (possibly of different images), channels from c0.
      const auto group_at = [&](I64 u, I64 c0) {
        RowGroup rg;
        rg.k = static_cast<int>(std::min<I64>(per, u1 - u));
        for (int q = 0; q < rg.k; ++q) {
          rg.x[q] = x + (u + q) / p.TH * in_image + c0 * in_pix;
          rg.ty[q] = (u + q) % p.TH;
        }
        return rg;
      };
      const I64 panels = (T + kNR - 1) / kNR;
      // Output channel blocks of M; per block, input channel blocks of V accumulate into M
      // (the input transforms are redone per output block: cheaper than an M of all channels
      // out of L2).
      for (I64 m0 = 0; m0 < mg; m0 += p.mb) {
        const I64 mn = std::min(p.mb, mg - m0);
        for (I64 c0 = 0; c0 < cg; c0 += p.cb) {
          const I64 cn = std::min(p.cb, cg - c0);
          for (I64 u = u0; u < u1; u += per) {
            if (per == 1)
              transform_inputs(g, p, x + u / p.TH * in_image + c0 * in_pix, u % p.TH, cn, v,
                               (u - u0) * p.TW);
            else
              transform_input_rows(g, p, ri, group_at(u, c0), cn, v, (u - u0) * p.TW);
          }
          for (int xi = 0; xi < kXi; ++xi) {
            const float* vx = v + xi * cn * p.ldv;
            float* mx = mb + xi * mn * p.ldv;
            for (I64 pj = 0; pj < panels; ++pj) {
              const I64 cols = std::min<I64>(kNR, T - pj * kNR);
              for (I64 r0 = 0; r0 < mn; r0 += kMR) {
                const I64 mr = std::min<I64>(kMR, mn - r0);
                const MicroFn fn = kMicroPacked[static_cast<std::size_t>(mr - 1)]
                                               [static_cast<std::size_t>((cols + 15) / 16 - 1)];
                fn(cn, up.data() + (xi * mg + m0 + r0) * cg + c0 * mr, 0, vx + pj * kNR, p.ldv,
                   nullptr, c0 == 0 ? Init::Zero : Init::Load, nullptr, nullptr,
                   mx + r0 * p.ldv + pj * kNR, p.ldv, static_cast<int>(cols));
              }
            }
          }
        }
        const float* bm = bias ? bias + m0 : nullptr;
        for (I64 u = u0; u < u1; u += per) {
          if (per == 1) {
            const I64 n = u / p.TH;
            transform_outputs(g, p, mb, u % p.TH, mn, (u - u0) * p.TW, bm, clip,
                              g.residual ? g.residual + n * out_image + m0 * out_pix : nullptr,
                              y + n * y_image + m0 * y_pix);
            continue;
          }
          const RowGroup rg = group_at(u, 0);
          float* yrow[4] = {};
          const float* rrow[4] = {};
          for (int q = 0; q < rg.k; ++q) {
            const I64 n = (u + q) / p.TH;
            yrow[q] = y + n * y_image + m0 * y_pix;
            rrow[q] = g.residual ? g.residual + n * out_image + m0 * out_pix : nullptr;
          }
          transform_output_rows(g, p, rg, yrow, rrow, mb, mn, (u - u0) * p.TW, bm, clip);
        }
      }
    }
  });
  return true;
}

}  // namespace mpq::convk

#endif
