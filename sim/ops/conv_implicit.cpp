// Implicit-GEMM conv (AVX-512): no im2col. (A 1x1 strided conv instead gathers its strided
// pixels into dense planes once per image.) Each (image, group) input is copied once into
// zero-padded phase planes (conv_phase.hpp); row k = (channel, tap) of the virtual im2col
// matrix is then that channel's phase plane shifted by a constant, so the micro-kernel reads
// B rows in place through an offset table. Output columns run over rows of the padded width
// (a few junk columns per row); stores compress them away. Cheaper than packing panels when
// there are few output channels to amortize the packing over (see implicit_cost).
#include "sim/ops/conv_common.hpp"

#if defined(__AVX512F__)

#include <algorithm>
#include <vector>

#include <tbb/parallel_for.h>

#include "sim/ops/conv_micro.hpp"
#include "sim/ops/conv_phase.hpp"
#include "sim/ops/gemm_kernel.hpp"

namespace mpq::convk {
namespace {

struct ImplicitPlan {
  PhaseLayout L;
  bool direct = false;     // 1x1, stride 1, no padding: B rows are the input planes themselves
                           // (copied for the last image, whose tail panel reads past x)
  bool subsample = false;  // subsampled_1x1: B rows are the strided input pixels, gathered
                           // into dense planes of OH x OW
  I64 cs = 0;              // floats per channel in the B buffer
  I64 qw = 0;              // computed columns per image: OH rows of wq
  I64 panels = 0;          // 48-column panels per image
  I64 kc = 0;              // K block
  I64 bp = 0, cb = 1;      // panels per column block, column blocks per image
  I64 mb = 1, mrows = 0;
};

// A 1x1 conv with a stride and no padding that any output reads: its input pixels gathered
// densely are the whole B matrix (the subsample mode of the plan).
bool subsampled_1x1(const ConvGeometry& g) {
  return g.kernel[1] == 1 && g.kernel[2] == 1 && g.pad_begin[1] == 0 && g.pad_begin[2] == 0 &&
         (g.stride[1] > 1 || g.stride[2] > 1) && (g.out[1] - 1) * g.stride[1] < g.in[1] &&
         (g.out[2] - 1) * g.stride[2] < g.in[2];
}

}  // namespace

bool implicit_reads_in_place(const ConvGeometry& g) {
  return g.planar() && g.kernel[1] == 1 && g.kernel[2] == 1 && g.stride[1] == 1 &&
         g.stride[2] == 1 && g.pad_begin[1] == 0 && g.pad_begin[2] == 0 && g.out[1] == g.in[1] &&
         g.out[2] == g.in[2];
}

namespace {

ImplicitPlan make_plan(const ConvGeometry& g, I64 mg) {
  ImplicitPlan p;
  p.L = phase_layout(g, true);
  p.direct = implicit_reads_in_place(g);
  p.subsample = subsampled_1x1(g);
  if (p.direct) {
    p.L.wq = g.in[2];
    p.L.tap_off = {0};
    p.cs = g.in_pixels();
  } else if (p.subsample) {
    p.L.wq = g.out[2];
    p.L.tap_off = {0};
    p.cs = g.out_pixels();
  } else {
    p.cs = p.L.sh * p.L.sw * p.L.plane;
  }
  p.qw = g.out[1] * p.L.wq;
  p.panels = (p.qw + kNR - 1) / kNR;
  const I64 K = g.in_channels / g.group * g.kernel_pixels();
  p.kc = k_block(K);
  p.bp = std::min<I64>(p.panels, 8);
  p.cb = (p.panels + p.bp - 1) / p.bp;
  const I64 T = gemm::num_threads(), units = g.batch * g.group;
  if (T > 1 && (units * p.cb) % T != 0 && units * p.cb < 8 * T) {
    // Equal tiles in multiples of the thread count (as in conv_gemm.cpp's plan).
    I64 cb = p.cb;
    while ((units * cb) % T != 0) ++cb;
    if (p.panels >= 2 * cb) {
      p.cb = cb;
    } else {
      I64 f = 2;
      while ((units * p.cb * f) % T != 0) ++f;
      if (mg >= kMR * f)
        p.mb = f;
      else if (p.panels >= cb)
        p.cb = cb;
    }
    p.bp = (p.panels + p.cb - 1) / p.cb;
    p.cb = (p.panels + p.bp - 1) / p.bp;
  }
  p.mrows = ((mg + p.mb - 1) / p.mb + kMR - 1) / kMR * kMR;
  p.mb = (mg + p.mrows - 1) / p.mrows;
  return p;
}

// Load / store masks and output offsets of every panel (the same for every image).
std::vector<PanelStore> panel_stores(const ConvGeometry& g, const ImplicitPlan& p) {
  const I64 wq = p.L.wq, OW = g.out[2];
  std::vector<PanelStore> v(static_cast<std::size_t>(p.panels));
  for (I64 pj = 0; pj < p.panels; ++pj) {
    PanelStore& ps = v[static_cast<std::size_t>(pj)];
    for (int vec = 0; vec < 3; ++vec) {
      const I64 j0 = pj * kNR + 16 * vec;
      unsigned c = 0;
      // Column of lane l stepped, not (j0 + l) % wq: per-lane 64-bit divisions made this
      // setup 2 % of a ResNet run.
      for (I64 l = 0, col = j0 % wq; l < 16; ++l, col = col + 1 == wq ? 0 : col + 1)
        if (j0 + l < p.qw && col < OW) c |= 1u << l;
      ps.cmask[vec] = static_cast<__mmask16>(c);
      ps.smask[vec] = static_cast<__mmask16>((1u << __builtin_popcount(c)) - 1u);
      ps.yoff[vec] = std::min(j0, p.qw) / wq * OW + std::min(std::min(j0, p.qw) % wq, OW);
    }
  }
  return v;
}

// dst[oh * OW + ow] = x[oh * sh][ow * sw]: the pixels a 1x1 strided conv reads, packed dense.
// Prefetches the rows it reads of `next` (the next plane) when not null: the input was just
// written by the layer before, beyond L2, and a stride-2 read of every other row is not
// followed by the hardware prefetchers (ResNet-18's first downsample 1.3 -> 0.7 ms at batch 8).
void subsample_plane(const ConvGeometry& g, const float* x, float* dst, const float* next) {
  const I64 W = g.in[2], OH = g.out[1], OW = g.out[2], sh = g.stride[1], sw = g.stride[2];
  const I64 span = std::min(W, (OW - 1) * sw + 1);
  for (I64 oh = 0; oh < OH; ++oh) {
    const float* row = x + oh * sh * W;
    if (next) prefetch_plane(next + oh * sh * W, span);
    float* out = dst + oh * OW;
    I64 ow = 0;
    if (sw == 2) {
      const __m512i even = even_lanes();
      for (; ow < OW; ow += 16) {
        // Input columns 2 * ow .. 2 * ow + 31, masked to the row.
        const I64 c0 = 2 * ow;
        const __m512 lo = _mm512_maskz_loadu_ps(lanes_below(W - c0), row + c0);
        const __m512 hi = _mm512_maskz_loadu_ps(lanes_below(W - c0 - 16), row + c0 + 16);
        _mm512_mask_storeu_ps(out + ow, lanes_below(OW - ow), _mm512_permutex2var_ps(lo, even, hi));
      }
    }
    for (; ow < OW; ++ow) out[ow] = row[ow * sw];
  }
}

}  // namespace

double implicit_cost(const ConvGeometry& g) {
  if (!g.planar()) return 1e300;
  // Whole channels per group and whole 16-lane vectors: integer divisions on purpose.
  const I64 mg_i = g.out_channels / g.group, cg_i = g.in_channels / g.group;
  const auto mg = static_cast<double>(mg_i);
  const auto K = static_cast<double>(cg_i * g.kernel_pixels());
  if (subsampled_1x1(g)) {
    // Subsampled 1x1: no junk columns; the gather touches each output pixel once per channel.
    const I64 lanes_i = (g.out_pixels() + 15) / 16 * 16;
    const auto lanes = static_cast<double>(lanes_i);
    return static_cast<double>(g.batch * g.group) *
           (1.05 * lanes * K * mg / 32.0 + 0.3 * K * lanes);
  }
  const PhaseLayout L = phase_layout(g, true);
  const I64 lanes_i = (g.out[1] * L.wq + 15) / 16 * 16;
  const auto lanes = static_cast<double>(lanes_i);
  // Building the phase planes: a plain copy for stride 1, a slower deinterleave otherwise.
  const double copy = static_cast<double>(cg_i * L.sh * L.sw * L.plane) * (L.sw == 1 ? 0.2 : 0.6);
  // 1.05: compressed stores and shifted (unaligned) B rows, measured on ResNet layers.
  return static_cast<double>(g.batch * g.group) * (1.05 * lanes * K * mg / 32.0 + copy);
}

bool conv_implicit(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                   float* y) {
  const I64 G = g.group, cg = g.in_channels / G, mg = g.out_channels / G;
  const I64 K = cg * g.kernel_pixels(), N = g.out_pixels(), in_pix = g.in_pixels();
  const ImplicitPlan p = make_plan(g, mg);
  if (cg * p.cs + 64 >= (I64{1} << 31) || K == 0 || mg == 0) return false;
  const std::vector<PanelStore> stores = panel_stores(g, p);
  std::vector<std::int32_t> off(static_cast<std::size_t>(K));
  const I64 taps = static_cast<I64>(p.L.tap_off.size());
  for (I64 c = 0; c < cg; ++c)
    for (I64 tap = 0; tap < taps; ++tap)
      off[static_cast<std::size_t>(c * taps + tap)] =
          static_cast<std::int32_t>(c * p.cs + p.L.tap_off[static_cast<std::size_t>(tap)]);
  const DerivedPanels wp(g, w, {G, mg, K}, kPanelsPackWeights, static_cast<std::size_t>(G * mg * K),
                         [&](float* dst) { pack_weights(w, G, mg, K, dst); });
  const std::uint64_t call = next_conv_call();
  const float clip_range[2] = {g.act_min, g.act_max};
  const I64 tasks = g.batch * G * p.cb * p.mb;
  tbb::parallel_for(tbb::blocked_range<I64>(0, tasks, 1), [&](const tbb::blocked_range<I64>& r) {
    TaggedInput& built = tagged_input<struct ImplicitPlanes>();
    for (I64 t = r.begin(); t != r.end(); ++t) {
      const I64 mi = t % p.mb, ci = t / p.mb % p.cb, grp = t / (p.mb * p.cb) % G,
                n = t / (p.mb * p.cb * G);
      const float* xg = x + (n * g.in_channels + grp * cg) * in_pix;
      const float* b = xg;
      if (p.direct && n == g.batch - 1 && grp == G - 1) {
        float* buf = gemm::thread_scratch(static_cast<std::size_t>(cg * in_pix + 64));
        std::copy(xg, xg + cg * in_pix, buf);
        b = buf;
      } else if (!p.direct) {
        if (built.call != call) {
          built.buf.resize(std::max(built.buf.size(), static_cast<std::size_t>(cg * p.cs + 64)));
          built.row.resize(
              std::max(built.row.size(), static_cast<std::size_t>(p.L.sw * p.L.wq + 32)));
        }
        float* buf = built.buf.data();
        float* row = built.row.data();
        if (built.call != call) {
          // Padding is written once per call; builds rewrite only input pixels.
          std::fill(buf, buf + cg * p.cs + 64, 0.0f);
          std::fill(row, row + p.L.sw * p.L.wq + 32, 0.0f);
          built.call = call;
          built.n = built.grp = -1;
        }
        if (built.n != n || built.grp != grp) {
          for (I64 c = 0; c < cg; ++c)
            if (p.subsample)
              subsample_plane(g, xg + c * in_pix, buf + c * p.cs,
                              c + 1 < cg ? xg + (c + 1) * in_pix : nullptr);
            else
              build_phases(g, p.L, xg + c * in_pix, buf + c * p.cs, row,
                           c + 1 < cg ? xg + (c + 1) * in_pix : nullptr);
          built.n = n;
          built.grp = grp;
        }
        b = buf;
      }
      const I64 pj0 = ci * p.bp, pj1 = std::min(p.panels, pj0 + p.bp);
      const I64 m0 = mi * p.mrows, nm = std::min(p.mrows, mg - m0);
      for (I64 k0 = 0; k0 < K; k0 += p.kc) {
        const I64 kc = std::min(p.kc, K - k0);
        const Init init = k0 == 0 ? Init::Bias : Init::Load;
        const bool last = k0 + kc == K;
        const float* clip = g.has_activation() && last ? clip_range : nullptr;
        // One 8-row tile over one panel.
        const auto tile = [&](I64 mr0, I64 pj) {
          const I64 mr = std::min<I64>(kMR, nm - mr0), m = grp * mg + m0 + mr0;
          const float* a = wp.data() + m * K + k0 * mr;
          const float* bm = bias ? bias + m : nullptr;
          float* ym = y + (n * g.out_channels + m) * N;
          const float* rm =
              g.residual && last ? g.residual + (n * g.out_channels + m) * N : nullptr;
          const I64 cols = std::min<I64>(kNR, p.qw - pj * kNR);
          if (p.direct || p.subsample) {
            // Dense planes, no junk columns: B rows are cs apart and output columns are
            // contiguous, so the plain kernel stores without compressing.
            const MicroFn mf = kMicroPacked[static_cast<std::size_t>(mr - 1)]
                                           [static_cast<std::size_t>((cols + 15) / 16 - 1)];
            mf(kc, a, 0, b + k0 * p.cs + pj * kNR, p.cs, bm, init, clip,
               rm ? rm + pj * kNR : nullptr, ym + pj * kNR, N, static_cast<int>(cols));
            return;
          }
          const ImplicitFn fn = kMicroImplicit[static_cast<std::size_t>(mr - 1)]
                                              [static_cast<std::size_t>((cols + 15) / 16 - 1)];
          fn(kc, a, b + pj * kNR, off.data() + k0, stores[static_cast<std::size_t>(pj)], bm, init,
             clip, rm, ym, N);
        };
        // A panel's B rows (shifted windows of every channel's plane) are scattered over the
        // input: while the block's weights fit in half of L1, every row tile takes the panel
        // before the next panel is touched. Else each row tile sweeps the panels.
        if (nm * kc <= 4096) {
          for (I64 pj = pj0; pj < pj1; ++pj)
            for (I64 mr0 = 0; mr0 < nm; mr0 += kMR) tile(mr0, pj);
        } else {
          for (I64 mr0 = 0; mr0 < nm; mr0 += kMR)
            for (I64 pj = pj0; pj < pj1; ++pj) tile(mr0, pj);
        }
      }
    }
  });
  return true;
}

}  // namespace mpq::convk

#endif
