// The two halves of a convolution's vector-Jacobian product, shared by the backward rules of
// Conv (conv.cpp) and ConvTranspose (conv_transpose.cpp): each op's input gradient is the
// other op's forward pass, and both weight gradients are one GEMM over im2col patches.
#include <tbb/parallel_for.h>

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

namespace {

// Adds (beta 1) or writes (beta 0) image n's share dy_n x im2col(x_n)^T into dw, on the calling
// thread.
void image_weight_grad(const ConvGeometry& g, const float* x, const float* dy, I64 n, float beta,
                       float* dw) {
  const I64 G = g.group, cg = g.in_channels / G, mg = g.out_channels / G;
  const I64 kc = cg * g.kernel_pixels(), out_pix = g.out_pixels(), in_pix = g.in_pixels();
  float* col = gemm::thread_scratch(static_cast<std::size_t>(kc * out_pix), 2);
  for (I64 grp = 0; grp < G; ++grp) {
    im2col(g, x + (n * g.in_channels + grp * cg) * in_pix, cg, col);
    const float* dyg = dy + (n * g.out_channels + grp * mg) * out_pix;
    gemm::sgemm(mg, kc, out_pix, 1.0f, {dyg, out_pix}, {col, out_pix, true}, beta,
                dw + grp * mg * kc, kc);
  }
}

constexpr I64 kImagesPerChunk = 4;

}  // namespace

void conv_weight_grad(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  const I64 size = g.out_channels * (g.in_channels / g.group) * g.kernel_pixels();
  // Fixed chunks of images, each summed in order into its own partial, then the partials in
  // chunk order: the same sums whatever the thread count.
  const I64 chunks = (g.batch + kImagesPerChunk - 1) / kImagesPerChunk;
  std::vector<float> partial(static_cast<std::size_t>(std::max<I64>(0, chunks - 1) * size));
  tbb::parallel_for(I64{0}, chunks, [&](I64 c) {
    float* out = c == 0 ? dw : partial.data() + (c - 1) * size;
    const I64 end = std::min(g.batch, (c + 1) * kImagesPerChunk);
    for (I64 n = c * kImagesPerChunk; n < end; ++n)
      image_weight_grad(g, x, dy, n, n == c * kImagesPerChunk ? 0.0f : 1.0f, out);
  });
  if (g.batch == 0) std::fill(dw, dw + size, 0.0f);
  for (I64 c = 1; c < chunks; ++c) {
    const float* p = partial.data() + (c - 1) * size;
    for (I64 e = 0; e < size; ++e) dw[e] += p[e];
  }
}

void conv_weight_grad_per_image(const ConvGeometry& g, const float* x, const float* dy, float* dw) {
  const I64 size = g.out_channels * (g.in_channels / g.group) * g.kernel_pixels();
  tbb::parallel_for(I64{0}, g.batch,
                    [&](I64 n) { image_weight_grad(g, x, dy, n, 0.0f, dw + n * size); });
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
