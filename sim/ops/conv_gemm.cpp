// Dense / grouped Conv as a packed GEMM with AVX-512 register-blocked micro-kernels:
//   Y_g[m, q] = bias[m] + sum_k W_g[m, k] * col[k, q]
// where q runs over the output pixels of ALL images back to back, so small feature maps
// (7x7, 14x14) still fill whole 48-column panels. Per task: im2col of a column block straight
// into 48-wide panels ([k][48] contiguous, one masked load or gather per zmm; width-stride-2
// convs take two loads and a permute per output-row chunk, conv_pack_stride2.cpp), then 8x48
// tiles of C accumulate in 24 zmm registers while streaming an 8-row panel of W (repacked
// k-major when several column panels reuse it) and the B panel. Tasks are (group, column block,
// row block) tiles sized so their count is a multiple of the thread count. conv_dense_avx512 at
// the end picks among this path and the Winograd, channel-lane and implicit ones.
#include "sim/ops/conv_common.hpp"

#if defined(__AVX512F__)

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <vector>

#include <tbb/parallel_for.h>

#include "sim/ops/conv_micro.hpp"
#include "sim/ops/gemm_kernel.hpp"

namespace mpq {
namespace {

using namespace convk;

// im2col geometry of 16 consecutive flat output columns (one zmm of a panel row): per lane
// the offset of the window origin in x (relative to the block's first image), and the
// origin's input row / column (a huge negative row marks lanes past the block's end).
// Windows of consecutive pixels are usually consecutive in x (stride 1, "same" width), so most
// vectors are one or two runs (two when an image ends inside the vector): masked loads then
// replace the gather.
struct alignas(64) LaneVec {
  __m512i base, ih0, iw0;
  std::int32_t base0, base1;  // x offset of lane 0 and of lane `split` (second run)
  std::int32_t split;         // first lane of the second run (16: single run)
  bool runs;                  // lanes [0, split) and [split, 16) are each consecutive in x
};

std::vector<LaneVec>& lane_vectors(const ConvGeometry& g, I64 q0, I64 nq) {
  thread_local std::vector<LaneVec> vecs;
  const I64 N = g.out_pixels(), OW = g.out[2], image = g.in_channels * g.in_pixels();
  const I64 n_first = q0 / N;
  vecs.resize(static_cast<std::size_t>((nq + 15) / 16));
  I64 n = n_first, p = q0 % N, oh = p / OW, ow = p % OW;
  for (std::size_t v = 0; v < vecs.size(); ++v) {
    alignas(64) std::int32_t base[16], ih0[16], iw0[16];
    int split = 16, breaks = 0;
    for (int l = 0; l < 16; ++l) {
      const I64 j = static_cast<I64>(v) * 16 + l;
      if (j >= nq) {  // past the block: masked off, any offset continues the run
        base[l] = l > 0 ? base[l - 1] + 1 : 0;
        iw0[l] = 0;
        ih0[l] = -(1 << 30);
        continue;
      }
      ih0[l] = static_cast<std::int32_t>(oh * g.stride[1] - g.pad_begin[1]);
      iw0[l] = static_cast<std::int32_t>(ow * g.stride[2] - g.pad_begin[2]);
      base[l] = static_cast<std::int32_t>((n - n_first) * image + ih0[l] * g.in[2] + iw0[l]);
      if (l > 0 && base[l] != base[l - 1] + 1) {
        ++breaks;
        split = l;
      }
      if (++ow == OW) {
        ow = 0;
        if (++oh == g.out[1]) {
          oh = 0;
          ++n;
        }
      }
    }
    vecs[v] = {_mm512_load_si512(base),
               _mm512_load_si512(ih0),
               _mm512_load_si512(iw0),
               base[0],
               base[split & 15],
               split,
               breaks <= 1};
  }
  return vecs;
}

// Packs rows [k0, k1) of the im2col matrix of group `grp` for the block's flat columns into
// panels: element (k, j) goes to bp[(j / 48) * (k1 - k0) * 48 + (k - k0) * 48 + j % 48].
// Padding and lanes past the block become zeros.
void pack_columns(const ConvGeometry& g, const float* xb, I64 grp, I64 k0, I64 k1,
                  const std::vector<LaneVec>& vecs, float* bp) {
  const I64 cg = g.in_channels / g.group, W = g.in[2], KH = g.kernel[1], KW = g.kernel[2];
  const I64 kc = k1 - k0, in_pix = g.in_pixels();
  const __m512i hv = _mm512_set1_epi32(static_cast<int>(g.in[1]));
  const __m512i wv = _mm512_set1_epi32(static_cast<int>(W));
  const LaneVec* lvs = vecs.data();
  const std::size_t nv = vecs.size();
  // Row k = (c * KH + kh) * KW + kw, advanced as counters (no divisions per row).
  I64 kw = k0 % KW, kh = k0 / KW % KH, c = k0 / (KW * KH);
  for (I64 k = k0; k < k1; ++k) {
    const I64 dh = kh * g.dilation[1], dw = kw * g.dilation[2];
    const auto koff = static_cast<int>((grp * cg + c) * in_pix + dh * W + dw);
    const __m512i dhv = _mm512_set1_epi32(static_cast<int>(dh));
    const __m512i dwv = _mm512_set1_epi32(static_cast<int>(dw));
    const __m512i kv = _mm512_set1_epi32(koff);
    const float* xk = xb + koff;
    float* row = bp + (k - k0) * kNR;
    for (std::size_t v = 0; v < nv; ++v) {
      const LaneVec& lv = lvs[v];
      const __mmask16 m = _mm512_cmplt_epu32_mask(_mm512_add_epi32(lv.ih0, dhv), hv) &
                          _mm512_cmplt_epu32_mask(_mm512_add_epi32(lv.iw0, dwv), wv);
      __m512 val;
      if (lv.runs) {
        const auto first = static_cast<__mmask16>((1u << lv.split) - 1u);
        val = _mm512_maskz_loadu_ps(m & first, xk + lv.base0);
        if (lv.split < 16) val = _mm512_mask_loadu_ps(val, m & ~first, xk + (lv.base1 - lv.split));
      } else {
        val =
            _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, _mm512_add_epi32(lv.base, kv), xb, 4);
      }
      _mm512_storeu_ps(row + static_cast<I64>(v / 3) * kc * kNR + static_cast<I64>(v % 3) * 16,
                       val);
    }
    if (++kw == KW) {
      kw = 0;
      if (++kh == KH) {
        kh = 0;
        ++c;
      }
    }
  }
}

struct Plan {
  I64 kc;     // K block
  I64 nb;     // flat columns per task (multiple of 48 except the last block)
  I64 cb;     // column blocks
  I64 mb;     // row blocks per group
  I64 mrows;  // rows per row block (multiple of 8 except the last)
};

Plan make_plan(const ConvGeometry& g, I64 K, I64 Q, I64 mg) {
  Plan p{};
  p.kc = k_block(K);
  // Packed B block around 512 KB so it stays in L2 while every W row block streams over it.
  const I64 q_panels = (Q + kNR - 1) / kNR;
  const I64 panels = std::clamp<I64>(512 * 1024 / (p.kc * 4 * kNR), 2, 16);
  p.cb = (q_panels + panels - 1) / panels;
  p.mb = 1;
  const I64 T = gemm::num_threads();
  if (T > 1 && (g.group * p.cb) % T != 0 && g.group * p.cb < 8 * T) {
    // Equal tiles must come in multiples of the thread count: split columns further while
    // blocks keep two or more panels, else split output channels.
    I64 cb = p.cb;
    while ((g.group * cb) % T != 0) ++cb;
    if (q_panels >= 2 * cb) {
      p.cb = cb;
    } else {
      I64 f = 2;
      while ((g.group * p.cb * f) % T != 0) ++f;
      if (mg >= kMR * f)
        p.mb = f;
      else if (q_panels >= cb)
        p.cb = cb;
    }
  }
  p.nb = (q_panels + p.cb - 1) / p.cb * kNR;
  p.cb = (Q + p.nb - 1) / p.nb;
  p.mrows = ((mg + p.mb - 1) / p.mb + kMR - 1) / kMR * kMR;
  p.mb = (mg + p.mrows - 1) / p.mrows;
  return p;
}

// The packed-GEMM conv over Q = batch x N flat output columns.
void packed_gemm(const ConvGeometry& g, I64 K, I64 Q, I64 mg, const float* x, const float* w,
                 const float* bias, float* y) {
  const I64 G = g.group, N = g.out_pixels();
  const float clip_range[2] = {g.act_min, g.act_max};
  const float* clip = g.has_activation() ? clip_range : nullptr;
  const Plan plan = make_plan(g, K, Q, mg);
  const I64 tasks = G * plan.cb * plan.mb;
  // Repacked W streams better (one pointer, immediate offsets) but costs a pass over W:
  // worth it once every weight meets many columns.
  const bool packed = Q >= 16 * kNR;
  const DerivedPanels wpacked(g, w, {G, mg, K}, kPanelsPackWeights,
                              packed ? static_cast<std::size_t>(G * mg * K) : 0,
                              [&](float* dst) { pack_weights(w, G, mg, K, dst); });
  tbb::parallel_for(tbb::blocked_range<I64>(0, tasks, 1), [&](const tbb::blocked_range<I64>& r) {
    for (I64 t = r.begin(); t != r.end(); ++t) {
      const I64 mi = t % plan.mb, ci = t / plan.mb % plan.cb, grp = t / (plan.mb * plan.cb);
      const I64 q0 = ci * plan.nb, nq = std::min(plan.nb, Q - q0);
      const I64 m0 = mi * plan.mrows, nm = std::min(plan.mrows, mg - m0);
      const I64 panels = (nq + kNR - 1) / kNR;
      float* bp = gemm::thread_scratch(static_cast<std::size_t>(panels * plan.kc * kNR));
      float* tile = gemm::thread_scratch(kMR * kNR, 1);
      const bool stride2 = g.stride[2] == 2;
      const std::vector<LaneVec>& vecs = lane_vectors(g, q0, stride2 ? 0 : nq);
      const std::vector<RowChunk>& chunks = row_chunks(g, q0, stride2 ? nq : 0);
      const float* xb = x + q0 / N * g.in_channels * g.in_pixels();
      for (I64 k0 = 0; k0 < K; k0 += plan.kc) {
        const I64 kc = std::min(plan.kc, K - k0);
        const bool last = k0 + kc == K;
        if (stride2)
          pack_columns_stride2(g, xb, grp, k0, k0 + kc, chunks, nq, bp);
        else
          pack_columns(g, xb, grp, k0, k0 + kc, vecs, bp);
        for (I64 mr0 = 0; mr0 < nm; mr0 += kMR) {
          const I64 mr = std::min<I64>(kMR, nm - mr0), m = grp * mg + m0 + mr0;
          const float* a = packed ? wpacked.data() + m * K + k0 * mr : w + m * K + k0;
          const MicroTable& micro_table = packed ? kMicroPacked : kMicroInPlace;
          const float* bm = bias ? bias + m : nullptr;
          for (I64 pj = 0; pj < panels; ++pj) {
            const I64 q = q0 + pj * kNR, cols = std::min<I64>(kNR, nq - pj * kNR);
            const MicroFn fn = micro_table[static_cast<std::size_t>(mr - 1)]
                                          [static_cast<std::size_t>((cols + 15) / 16 - 1)];
            const float* b = bp + pj * kc * kNR;
            const I64 n = q / N, p = q % N;
            float* yq = y + (n * g.out_channels + m) * N + p;
            if (p + cols <= N) {
              // Panel inside one image: tiles go straight into Y.
              const float* rq =
                  g.residual && last ? g.residual + (n * g.out_channels + m) * N + p : nullptr;
              fn(kc, a, K, b, kNR, bm, k0 == 0 ? Init::Bias : Init::Load, last ? clip : nullptr, rq,
                 yq, N, static_cast<int>(cols));
              continue;
            }
            // Panel spans images: compute into a tile, then add each image's part.
            fn(kc, a, K, b, kNR, bm, k0 == 0 ? Init::Bias : Init::Zero, nullptr, nullptr, tile, kNR,
               static_cast<int>(cols));
            for (I64 j = 0; j < cols;) {
              const I64 qj = q + j, nj = qj / N, pjx = qj % N, len = std::min(cols - j, N - pjx);
              for (I64 i = 0; i < mr; ++i) {
                const I64 at = (nj * g.out_channels + m + i) * N + pjx;
                float* dst = y + at;
                const float* src = tile + i * kNR + j;
                if (k0 == 0)
                  std::copy(src, src + len, dst);
                else
                  for (I64 e = 0; e < len; ++e) dst[e] += src[e];
                if (last && g.residual)
                  for (I64 e = 0; e < len; ++e) dst[e] += g.residual[at + e];
                if (last && clip)
                  for (I64 e = 0; e < len; ++e)
                    dst[e] = std::min(std::max(dst[e], clip[0]), clip[1]);
              }
              j += len;
            }
          }
        }
      }
    }
  });
}

}  // namespace

bool conv_dense_avx512(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                       float* y) {
  const I64 G = g.group, mg = g.out_channels / G;
  const I64 K = g.in_channels / G * g.kernel_pixels(), N = g.out_pixels(), Q = g.batch * N;
  // Lane offsets are int32 and the loop nest is 2-D: other shapes take the Eigen path.
  const bool fits = g.batch * g.in_channels * g.in_pixels() < (I64{1} << 31) - 1;
  if (K == 0 || Q == 0 || mg == 0 || !fits || !g.planar()) return false;
  const ConvPath path = conv_path();
  if ((path == ConvPath::Winograd || (path == ConvPath::Auto && winograd_suits(g))) &&
      conv_winograd(g, x, w, bias, y))
    return true;
  if (g.max_pool) return false;  // only Winograd writes pooled outputs
  if ((path == ConvPath::ChannelLanes || (path == ConvPath::Auto && channel_lanes_suits(g))) &&
      conv_channel_lanes(g, x, w, bias, y))
    return true;
  // Packing costs about half a cycle per element (gathers for strided convs, about one), the
  // product mg / 32 cycles per element at two 16-lane FMAs a cycle; the implicit path skips
  // the packing but computes the junk columns of the padded width. In-place 1x1 convs: the
  // implicit path measured 25-40% ahead of the packed one on every MobileNet pointwise layer
  // (7x7 to 28x28, 16 to 96 channels), whose packing the estimate underprices.
  const double pack = g.stride[2] == 1 ? 0.5 : 1.0;
  const double packed_cost =
      static_cast<double>(G * Q * K) * (static_cast<double>(mg) / 32.0 + pack);
  if (path == ConvPath::Implicit ||
      (path == ConvPath::Auto && (implicit_reads_in_place(g) || implicit_cost(g) < packed_cost))) {
    if (conv_implicit(g, x, w, bias, y)) return true;
  }
  packed_gemm(g, K, Q, mg, x, w, bias, y);
  return true;
}

}  // namespace mpq

#else  // no AVX-512: conv.cpp falls back to im2col + Eigen

namespace mpq {
bool conv_dense_avx512(const ConvGeometry&, const float*, const float*, const float*, float*) {
  return false;
}
}  // namespace mpq

#endif
