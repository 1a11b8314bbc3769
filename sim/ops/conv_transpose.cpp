// ConvTranspose as GEMM + col2im: col = W_g^T * X_g holds, for every input pixel, its
// contribution through every (output channel, kernel tap); col2im scatter-adds them into Y.
#include <algorithm>
#include <span>
#include <tuple>
#include <vector>

#include <tbb/parallel_for.h>

#include "sim/ops/conv_common.hpp"
#include "sim/ops/gemm_kernel.hpp"
#include "sim/ops/kernel_util.hpp"

namespace mpq {
namespace {

using I64 = std::int64_t;

I64 ceil_div(I64 a, I64 b) {
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

// Adds the col rows of output channels [m0, m1) (relative to col) into y (that group's planes,
// already holding the bias). Channels write disjoint planes, so channel ranges may run in
// parallel.
void col2im(const ConvGeometry& g, const float* col, I64 m0, I64 m1, float* y) {
  const I64 in_pix = g.in_pixels(), out_pix = g.out_pixels();
  const I64 OH = g.out[1], OW = g.out[2], sw = g.stride[2];
  for (I64 m = m0; m < m1; ++m) {
    float* ym = y + m * out_pix;
    const float* row = col + m * g.kernel_pixels() * in_pix;
    for (I64 kd = 0; kd < g.kernel[0]; ++kd)
      for (I64 kh = 0; kh < g.kernel[1]; ++kh)
        for (I64 kw = 0; kw < g.kernel[2]; ++kw, row += in_pix) {
          const I64 base = kw * g.dilation[2] - g.pad_begin[2];
          // Input columns iw whose output column iw * sw + base lies in [0, OW).
          const I64 lo = std::clamp<I64>(ceil_div(-base, sw), 0, g.in[2]);
          const I64 hi = std::clamp<I64>(ceil_div(OW - base, sw), lo, g.in[2]);
          for (I64 id = 0; id < g.in[0]; ++id) {
            const I64 od = id * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0];
            if (od < 0 || od >= g.out[0]) continue;
            for (I64 ih = 0; ih < g.in[1]; ++ih) {
              const I64 oh = ih * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
              if (oh < 0 || oh >= OH) continue;
              const float* src = row + (id * g.in[1] + ih) * g.in[2];
              float* dst = ym + (od * OH + oh) * OW;
              for (I64 iw = lo; iw < hi; ++iw) dst[iw * sw + base] += src[iw];
            }
          }
        }
  }
}

void fill_bias(const ConvGeometry& g, const float* bias, float* y) {
  const I64 out_pix = g.out_pixels();
  for (I64 nm = 0; nm < g.batch * g.out_channels; ++nm)
    std::fill(y + nm * out_pix, y + (nm + 1) * out_pix, bias ? bias[nm % g.out_channels] : 0.0f);
}

void conv_transpose_kernel(const OpContext& ctx, std::span<const Tensor* const> in,
                           std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "X");
  const Tensor& w = require(in, 1, "W");
  const Tensor* b = optional_input(in, 2);
  if (!x.is_float() || !w.is_float() || (b && !b->is_float()))
    throw OpError("ConvTranspose supports float tensors only");
  ConvGeometry g = conv_transpose_geometry(ctx.node, x.shape, w.shape);
  g.act_min = ctx.folds.act_min;
  g.act_max = ctx.folds.act_max;
  if (b && b->size() != g.out_channels)
    throw OpError("bias B " + shape_str(b->shape) + " must have " + std::to_string(g.out_channels) +
                  " values");
  shape_float_output(out[0], g.y_shape());
  conv_transpose_forward(g, x.f.data(), w.f.data(), b ? b->f.data() : nullptr, out[0].f.data());
}

std::optional<std::string> validate_conv_transpose(const OpNode& node, std::int64_t) {
  return validate_conv_attributes(node);
}

}  // namespace

void conv_transpose_forward(const ConvGeometry& g, const float* x, const float* w,
                            const float* bias, float* y) {
  const I64 G = g.group, cg = g.in_channels / G, mg = g.out_channels / G;
  const I64 kc = mg * g.kernel_pixels(), in_pix = g.in_pixels(), out_pix = g.out_pixels();
  fill_bias(g, bias, y);
  const I64 units = g.batch * G;
  auto unit_ptrs = [&](I64 u) {
    const I64 n = u / G, grp = u % G;
    return std::tuple{x + (n * g.in_channels + grp * cg) * in_pix, w + grp * cg * kc,
                      y + (n * g.out_channels + grp * mg) * out_pix};
  };
  // One (image, group) unit per task. The product is always parallel_sgemm, whose blocking
  // does not depend on the thread count (bit-identical results for any --threads); TBB runs
  // the nested loops inline when the units already fill the threads. The col buffer is a plain
  // vector: a thread-scratch buffer must not be held across nested parallel loops.
  tbb::parallel_for(tbb::blocked_range<I64>(0, units, 1), [&](const tbb::blocked_range<I64>& r) {
    std::vector<float> col(static_cast<std::size_t>(kc * in_pix));
    for (I64 u = r.begin(); u != r.end(); ++u) {
      const auto ptrs = unit_ptrs(u);
      const auto* xg = std::get<0>(ptrs);
      const auto* wg = std::get<1>(ptrs);
      auto* yg = std::get<2>(ptrs);
      gemm::parallel_sgemm(kc, in_pix, cg, 1.0f, {wg, kc, true}, {xg, in_pix}, 0.0f, col.data(),
                           in_pix);
      tbb::parallel_for(tbb::blocked_range<I64>(0, mg), [&](const tbb::blocked_range<I64>& cr) {
        col2im(g, col.data(), cr.begin(), cr.end(), yg);
        if (g.has_activation())
          for (float* v = yg + cr.begin() * out_pix; v != yg + cr.end() * out_pix; ++v)
            *v = std::min(std::max(*v, g.act_min), g.act_max);
      });
    }
  });
}

namespace {

// The mirror of Conv's rule: dX = Conv(dY, W); dW from im2col patches of dY.
void conv_transpose_grad(const GradContext& c) {
  const Tensor& x = require(c.inputs, 0, "X");
  const Tensor& w = require(c.inputs, 1, "W");
  const Tensor& dy = *c.out_grads[0];
  const ConvGeometry t = conv_transpose_geometry(c.node, x.shape, w.shape);
  const ConvGeometry g = transposed_geometry(t);
  if (Tensor* dx = c.in_grads[0]) {
    dx->dtype = DType::Float32;
    dx->allocate(x.shape);
    conv_forward(g, dy.f.data(), w.f.data(), nullptr, dx->f.data());
  }
  if (Tensor* dw = c.in_grads.size() > 1 ? c.in_grads[1] : nullptr) {
    dw->dtype = DType::Float32;
    dw->allocate(w.shape);
    conv_weight_grad(g, dy.f.data(), x.f.data(), dw->f.data());
  }
  if (Tensor* db = c.in_grads.size() > 2 ? c.in_grads[2] : nullptr) {
    db->dtype = DType::Float32;
    db->allocate(c.inputs[2]->shape);
    channel_sums(t, dy.f.data(), db->f.data());
  }
}

// Traits. Each input element scatters into Cout / group x kernel window outputs.
I64 conv_transpose_macs(const OpNode&, const Shape& x, const Shape& w, const Shape&) {
  return w.size() >= 2 ? numel(x) * numel(std::span(w).subspan(1)) : 0;
}

// Per group: [N x input spatial, Cin / group] by [.., Cout / group x window] (before col2im).
GemmView conv_transpose_gemm(const OpNode& n, const Shape& x, const Shape& w, const Shape&, I64,
                             bool) {
  if (w.size() < 2 || x.size() < 2) return {};
  const I64 group = n.attr_int("group", 1);
  return {group, numel(std::span(x).subspan(2)) * x[0], numel(std::span(w).subspan(1)),
          x[1] / group};
}

int conv_transpose_weight_axis(const OpNode&, const Shape&) {
  return 1;  // W is [Cin, Cout / group, k...]
}

constexpr OpTraits kConvTransposeTraits{OpClass::ConvTranspose,
                                        PlacementRole::Compute,
                                        {.macs = conv_transpose_macs,
                                         .gemm_view = conv_transpose_gemm,
                                         .weight_channel_axis = conv_transpose_weight_axis}};

}  // namespace

void register_conv_transpose_op(OpTable& t) {
  t.push_back({"ConvTranspose", kConvTransposeTraits, conv_transpose_kernel,
               validate_conv_transpose, true});
  t.back().backward = conv_transpose_grad;
}

}  // namespace mpq
