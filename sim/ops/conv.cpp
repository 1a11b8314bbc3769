// Conv op and dispatch. Depthwise convs run a direct loop (conv_depthwise.cpp). Dense and
// grouped 1-D / 2-D convs run on AVX-512 micro-kernels: over packed im2col panels
// (conv_gemm.cpp) or over shifted rows of a padded input (conv_implicit.cpp), whichever a cost
// estimate favours; dense 3x3 stride-1 convs of 32 to 256 channels by Winograd F(2x2, 3x3)
// (conv_winograd.cpp); small strided convs with output channels in the vector lanes
// (conv_channel_lanes.cpp). The portable path below (no AVX-512, or 3-D) is im2col + Eigen SGEMM,
// with 1x1 stride-1 convs multiplying the input in place.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include <tbb/parallel_for.h>

#include "graph/network.hpp"
#include "sim/ops/conv_common.hpp"
#include "sim/ops/gemm_kernel.hpp"
#include "sim/ops/kernel_util.hpp"

namespace mpq {
namespace {

using I64 = std::int64_t;

// Ceiling division for a possibly negative numerator and b > 0.
I64 ceil_div(I64 a, I64 b) {
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

// Output positions o in [0, n_out) whose input o * stride + base lies in [0, n_in).
struct Range {
  I64 lo, hi;
};
Range valid_range(I64 base, I64 stride, I64 n_in, I64 n_out) {
  const I64 lo = std::clamp<I64>(ceil_div(-base, stride), 0, n_out);
  const I64 hi = std::clamp<I64>(ceil_div(n_in - base, stride), lo, n_out);
  return {lo, hi};
}

// For every kernel column kw, the output columns whose input column is inside the row
// (computed once per call: the divisions are too slow for the inner loops).
std::vector<Range> column_ranges(const ConvGeometry& g) {
  std::vector<Range> r(static_cast<std::size_t>(g.kernel[2]));
  for (I64 kw = 0; kw < g.kernel[2]; ++kw)
    r[static_cast<std::size_t>(kw)] =
        valid_range(kw * g.dilation[2] - g.pad_begin[2], g.stride[2], g.in[2], g.out[2]);
  return r;
}

// Copies one im2col row segment: dst[j] = src[(ow0 + j) * stride + base], 0 outside the row
// (`valid` is the in-row range of output columns for this kernel column).
void gather_row(const float* src, Range valid, I64 ow0, I64 len, I64 stride, I64 base, float* dst) {
  const I64 lo = std::clamp(valid.lo, ow0, ow0 + len), hi = std::clamp(valid.hi, lo, ow0 + len);
  std::fill(dst, dst + (lo - ow0), 0.0f);
  if (stride == 1) {
    std::memcpy(dst + (lo - ow0), src + lo + base,
                static_cast<std::size_t>(hi - lo) * sizeof(float));
  } else {
    const float* s = src + base;
    float* d = dst - ow0;
    for (I64 ow = lo; ow < hi; ++ow) d[ow] = s[ow * stride];
  }
  std::fill(dst + (hi - ow0), dst + len, 0.0f);
}

// col[k, j] for the channels [0, cg) of x (one image, one group) and output pixels
// [p0, p0 + np); rows k run over (channel, kd, kh, kw) like the weight layout.
void im2col(const ConvGeometry& g, const std::vector<Range>& cols, const float* x, I64 cg, I64 p0,
            I64 np, float* col) {
  const I64 OH = g.out[1], OW = g.out[2], H = g.in[1], W = g.in[2];
  const I64 od0 = p0 / (OH * OW), oh0 = p0 / OW % OH, ow0 = p0 % OW;
  float* dst = col;
  for (I64 c = 0; c < cg; ++c)
    for (I64 kd = 0; kd < g.kernel[0]; ++kd)
      for (I64 kh = 0; kh < g.kernel[1]; ++kh)
        for (I64 kw = 0; kw < g.kernel[2]; ++kw) {
          const float* xc = x + c * g.in_pixels();
          const I64 wbase = kw * g.dilation[2] - g.pad_begin[2];
          const Range valid = cols[static_cast<std::size_t>(kw)];
          I64 od = od0, oh = oh0, ow = ow0;
          for (I64 p = p0; p < p0 + np;) {
            const I64 len = std::min(OW - ow, p0 + np - p);
            const I64 id = od * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0];
            const I64 ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
            if (id < 0 || id >= g.in[0] || ih < 0 || ih >= H)
              std::fill(dst, dst + len, 0.0f);
            else
              gather_row(xc + (id * H + ih) * W, valid, ow, len, g.stride[2], wbase, dst);
            dst += len;
            p += len;
            ow = 0;
            if (++oh == OH) {
              oh = 0;
              ++od;
            }
          }
        }
}

bool is_pointwise(const ConvGeometry& g) {
  for (std::size_t d = 0; d < 3; ++d)
    if (g.kernel[d] != 1 || g.stride[d] != 1 || g.pad_begin[d] != 0 || g.pad_end[d] != 0)
      return false;
  return true;
}

bool is_depthwise(const ConvGeometry& g) {
  return g.group > 1 && g.group == g.in_channels && g.out_channels % g.group == 0 && g.planar();
}

// Dense / grouped conv (portable path: no AVX-512, or 3-D). Tasks are (image, group, pixel
// block, row block) tiles of the output; each does im2col of its pixel block into a per-thread
// buffer sized to stay in L2 and one single-threaded SGEMM, so batch 32 spreads images over
// threads and batch 1 spreads pixel (or output-channel) blocks of the same image. Tile shapes
// never depend on the thread count: Eigen's blocking follows the product's shape, so they would
// make the rounding thread-dependent.
void gemm_conv(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  const I64 G = g.group, cg = g.in_channels / G, mg = g.out_channels / G;
  const I64 K = cg * g.kernel_pixels(), N = g.out_pixels(), in_pix = g.in_pixels();
  const bool pointwise = is_pointwise(g);
  constexpr I64 kColBytes = 384 * 1024;
  I64 nb = pointwise ? N : std::max<I64>(64, (kColBytes / (4 * K)) & ~I64{15});
  // Images of 256+ pixels get at least two pixel blocks, wide layers 64-row blocks, so that
  // batch 1 still has parallel tiles.
  if (N >= 256) nb = std::min(nb, (N / 2 + 15) & ~I64{15});
  nb = std::min(nb, N);
  const I64 cb = (N + nb - 1) / nb;
  const I64 mrows = mg >= 128 ? 64 : mg, mb = (mg + mrows - 1) / mrows;
  const I64 tasks = g.batch * G * cb * mb;
  const std::vector<Range> cols = column_ranges(g);
  tbb::parallel_for(tbb::blocked_range<I64>(0, tasks, 1), [&](const tbb::blocked_range<I64>& r) {
    for (I64 t = r.begin(); t != r.end(); ++t) {
      const I64 mi = t % mb, ci = t / mb % cb, grp = t / (mb * cb) % G, n = t / (mb * cb * G);
      const I64 p0 = ci * nb, np = std::min(nb, N - p0);
      const I64 m0 = mi * mrows, nm = std::min(mrows, mg - m0);
      if (nm <= 0) continue;
      const float* xg = x + (n * g.in_channels + grp * cg) * in_pix;
      gemm::MatRef B{xg + p0, N};
      if (!pointwise) {
        float* col = gemm::thread_scratch(static_cast<std::size_t>(K * np));
        im2col(g, cols, xg, cg, p0, np, col);
        B = {col, np};
      }
      float* yt = y + (n * g.out_channels + grp * mg + m0) * N + p0;
      gemm::sgemm(nm, np, K, 1.0f, {w + (grp * mg + m0) * K, K}, B, 0.0f, yt, N);
      if (bias)
        for (I64 m = 0; m < nm; ++m) {
          const float b = bias[grp * mg + m0 + m];
          float* row = yt + m * N;
          for (I64 j = 0; j < np; ++j) row[j] += b;
        }
      if (g.has_activation())
        for (I64 m = 0; m < nm; ++m) {
          float* row = yt + m * N;
          for (I64 j = 0; j < np; ++j) row[j] = std::min(std::max(row[j], g.act_min), g.act_max);
        }
    }
  });
}

void conv_kernel(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "X");
  const Tensor& w = require(in, 1, "W");
  const Tensor* b = optional_input(in, 2);
  if (!x.is_float() || !w.is_float() || (b && !b->is_float()))
    throw OpError("Conv supports float tensors only");
  ConvGeometry g = conv_geometry(ctx.node, x.shape, w.shape);
  g.act_min = ctx.folds.act_min;
  g.act_max = ctx.folds.act_max;
  g.residual = ctx.folds.out_residual;
  g.derived = ctx.derived;
  if (ctx.folds.out_max_pool) {
    if (g.spatial != 2 || g.out[1] < 2 || g.out[2] < 2 || g.residual)
      throw OpError("a folded MaxPool needs a 2-D output of at least 2x2, got " +
                    shape_str(g.y_shape()));
    g.max_pool = true;
  }
  if (b && b->size() != g.out_channels)
    throw OpError("bias B " + shape_str(b->shape) + " must have " + std::to_string(g.out_channels) +
                  " values");
  shape_float_output(out[0], g.max_pool ? g.pooled_y_shape() : g.y_shape());
  conv_forward(g, x.f.data(), w.f.data(), b ? b->f.data() : nullptr, out[0].f.data());
}

std::optional<std::string> validate_conv(const OpNode& node, std::int64_t) {
  return validate_conv_attributes(node);
}

}  // namespace

namespace {
std::atomic<ConvPath> g_conv_path{ConvPath::Auto};
}  // namespace

void set_conv_path(ConvPath p) {
  g_conv_path = p;
}
ConvPath conv_path() {
  return g_conv_path;
}

void conv_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                  float* y) {
  if (g.batch == 0 || g.out_channels == 0) return;
  if (g.max_pool) {
    // Winograd writes pooled tiles itself; every other path writes the whole output first.
    if (!is_depthwise(g) && conv_path() != ConvPath::Eigen && conv_dense_avx512(g, x, w, bias, y))
      return;
    ConvGeometry whole = g;
    whole.max_pool = false;
    const ThreadBuffer<struct UnpooledConvOutput> full(
        static_cast<std::size_t>(numel(whole.y_shape())));
    conv_forward(whole, x, w, bias, full.data());
    max_pool_2x2(full.data(), g.batch * g.out_channels, g.out[1], g.out[2], y);
    return;
  }
  if (!is_depthwise(g) && conv_path() != ConvPath::Eigen && conv_dense_avx512(g, x, w, bias, y))
    return;  // the AVX-512 paths add the residual in their stores
  // The other kernels run without the residual and the clamp, then one pass adds and clamps.
  ConvGeometry plain = g;
  if (g.residual) {
    plain.residual = nullptr;
    plain.act_min = -std::numeric_limits<float>::infinity();
    plain.act_max = std::numeric_limits<float>::infinity();
  }
  if (is_depthwise(g))
    depthwise_conv(plain, x, w, bias, y);
  else
    gemm_conv(plain, x, w, bias, y);
  if (g.residual) {
    const I64 n = numel(g.y_shape());
    tbb::parallel_for(tbb::blocked_range<I64>(0, n, 1 << 14),
                      [&](const tbb::blocked_range<I64>& r) {
                        for (I64 e = r.begin(); e != r.end(); ++e)
                          y[e] = std::min(std::max(y[e] + g.residual[e], g.act_min), g.act_max);
                      });
  }
}

namespace {

// dX = ConvTranspose(dY, W) through the same taps; dW = dY x im2col(X)^T; dB = sums of dY.
void conv_grad(const GradContext& c) {
  const Tensor& x = require(c.inputs, 0, "X");
  const Tensor& w = require(c.inputs, 1, "W");
  const Tensor& dy = *c.out_grads[0];
  const ConvGeometry g = conv_geometry(c.node, x.shape, w.shape);
  if (Tensor* dx = c.in_grads[0]) {
    dx->dtype = DType::Float32;
    dx->allocate(x.shape);
    conv_transpose_forward(transposed_geometry(g), dy.f.data(), w.f.data(), nullptr, dx->f.data());
  }
  if (Tensor* dw = c.in_grads.size() > 1 ? c.in_grads[1] : nullptr) {
    dw->dtype = DType::Float32;
    dw->allocate(w.shape);
    conv_weight_grad(g, x.f.data(), dy.f.data(), dw->f.data());
  }
  if (Tensor* db = c.in_grads.size() > 2 ? c.in_grads[2] : nullptr) {
    db->dtype = DType::Float32;
    db->allocate(c.inputs[2]->shape);
    channel_sums(g, dy.f.data(), db->f.data());
  }
}

// Traits. Depthwise: W is [Cout, Cin / group, k...], one input channel per group.
OpClass conv_class(const Network& net, const OpNode& n) {
  if (n.attr_int("group", 1) <= 1 || !n.has_input(1)) return OpClass::Conv;
  Shape ws;
  if (auto w = net.model.initializers.find(n.inputs[1]); w != net.model.initializers.end())
    ws = w->second.shape;
  else if (auto s = net.shapes.find(n.inputs[1]); s != net.shapes.end())
    ws = s->second;
  return ws.size() >= 2 && ws[1] == 1 ? OpClass::DepthwiseConv : OpClass::Conv;
}

// Each output element accumulates Cin / group x kernel window products.
I64 conv_macs(const OpNode&, const Shape&, const Shape& w, const Shape& y) {
  return w.size() >= 2 ? numel(y) * numel(std::span(w).subspan(1)) : 0;
}

// Per group: [N x spatial, Cin / group x window] by [.., Cout / group]. A Conv without that
// rank has no MACs, so the flat view is already right.
GemmView conv_gemm(const OpNode& n, const Shape&, const Shape& w, const Shape& y, I64, bool) {
  if (w.size() < 2 || y.size() < 2) return {};
  const I64 group = n.attr_int("group", 1);
  return {group, numel(std::span(y).subspan(2)) * y[0], y[1] / group,
          numel(std::span(w).subspan(1))};
}

int conv_weight_axis(const OpNode&, const Shape&) {
  return 0;  // W is [Cout, Cin / group, k...]
}

constexpr OpTraits kConvTraits{OpClass::Conv,
                               PlacementRole::Compute,
                               {.refine_class = conv_class,
                                .macs = conv_macs,
                                .gemm_view = conv_gemm,
                                .weight_channel_axis = conv_weight_axis}};

}  // namespace

void register_conv_ops(OpTable& t) {
  OpSpec conv{"Conv", kConvTraits, conv_kernel, validate_conv, true};
  conv.takes_output_residual = true;
  conv.takes_output_max_pool = true;
  conv.backward = conv_grad;
  t.push_back(conv);
  register_conv_transpose_op(t);
}

}  // namespace mpq
