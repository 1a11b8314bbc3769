// The two halves of a convolution's vector-Jacobian product, shared by the backward rules of
// Conv (conv.cpp) and ConvTranspose (conv_transpose.cpp): each op's input gradient is the
// other op's forward pass, and both weight gradients are one GEMM over im2col patches.
#include <algorithm>
#include <vector>

#include "sim/ops/conv_common.hpp"
#include "sim/ops/gemm_kernel.hpp"

namespace mpq {
namespace {

using I64 = std::int64_t;

// col[(c, kd, kh, kw), o] = x[c, pixel that output o reads through tap k] (0 in the padding),
// for the `cg` channels at x, over the output pixels of conv geometry g.
void im2col(const ConvGeometry& g, const float* x, I64 cg, float* col) {
  const I64 out_pix = g.out_pixels(), in_pix = g.in_pixels();
  float* row = col;
  for (I64 c = 0; c < cg; ++c)
    for (I64 kd = 0; kd < g.kernel[0]; ++kd)
      for (I64 kh = 0; kh < g.kernel[1]; ++kh)
        for (I64 kw = 0; kw < g.kernel[2]; ++kw, row += out_pix) {
          const float* xc = x + c * in_pix;
          I64 o = 0;
          for (I64 od = 0; od < g.out[0]; ++od) {
            const I64 id = od * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0];
            for (I64 oh = 0; oh < g.out[1]; ++oh) {
              const I64 ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
              const bool inside = id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1];
              for (I64 ow = 0; ow < g.out[2]; ++ow, ++o) {
                const I64 iw = ow * g.stride[2] + kw * g.dilation[2] - g.pad_begin[2];
                row[o] = inside && iw >= 0 && iw < g.in[2] ? xc[(id * g.in[1] + ih) * g.in[2] + iw]
                                                           : 0.0f;
              }
            }
          }
        }
}

}  // namespace

ConvGeometry transposed_geometry(const ConvGeometry& g) {
  ConvGeometry t = g;
  t.in = g.out;
  t.out = g.in;
  t.in_channels = g.out_channels;
  t.out_channels = g.in_channels;
  t.act_min = -std::numeric_limits<float>::infinity();
  t.act_max = std::numeric_limits<float>::infinity();
  t.residual = nullptr;
  t.derived = nullptr;
  t.max_pool = false;
  return t;
}

void conv_weight_grad(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  const I64 G = g.group, cg = g.in_channels / G, mg = g.out_channels / G;
  const I64 kc = cg * g.kernel_pixels(), out_pix = g.out_pixels(), in_pix = g.in_pixels();
  std::fill(dw, dw + g.out_channels * kc, 0.0f);
  std::vector<float> col(static_cast<std::size_t>(kc * out_pix));
  // Images in order, each adding its product: the sum's order is fixed.
  for (I64 n = 0; n < g.batch; ++n)
    for (I64 grp = 0; grp < G; ++grp) {
      im2col(g, x + (n * g.in_channels + grp * cg) * in_pix, cg, col.data());
      const float* dyg = dy + (n * g.out_channels + grp * mg) * out_pix;
      gemm::parallel_sgemm(mg, kc, out_pix, 1.0f, {dyg, out_pix}, {col.data(), out_pix, true}, 1.0f,
                           dw + grp * mg * kc, kc);
    }
}

void channel_sums(const ConvGeometry& g, const float* dy, float* db) {
  const I64 out_pix = g.out_pixels();
  for (I64 m = 0; m < g.out_channels; ++m) {
    double s = 0;
    for (I64 n = 0; n < g.batch; ++n) {
      const float* p = dy + (n * g.out_channels + m) * out_pix;
      for (I64 o = 0; o < out_pix; ++o) s += p[o];
    }
    db[m] = static_cast<float>(s);
  }
}

}  // namespace mpq
