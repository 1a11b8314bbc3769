#pragma once
// Straightforward Conv / ConvTranspose loops, written for clarity rather than speed: the
// yardstick the fast kernels in conv.cpp / conv_transpose.cpp are tested against.
#include <algorithm>
#include <cstdint>

#include "sim/ops/conv_common.hpp"

namespace mpq {

// y[n, m, o] = clamp(bias[m] + sum_{c in group(m), k} x[n, c, o * stride + k * dilation - pad]
//                   * w[m, c, k], act_min, act_max)
inline void conv_reference(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                           float* y) {
  const std::int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t m = 0; m < g.out_channels; ++m) {
      const std::int64_t c0 = (m / mg) * cg;
      for (std::int64_t od = 0; od < g.out[0]; ++od)
        for (std::int64_t oh = 0; oh < g.out[1]; ++oh)
          for (std::int64_t ow = 0; ow < g.out[2]; ++ow) {
            double acc = bias ? bias[m] : 0.0;
            for (std::int64_t c = 0; c < cg; ++c)
              for (std::int64_t kd = 0; kd < g.kernel[0]; ++kd)
                for (std::int64_t kh = 0; kh < g.kernel[1]; ++kh)
                  for (std::int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                    const std::int64_t id = od * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0];
                    const std::int64_t ih = oh * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
                    const std::int64_t iw = ow * g.stride[2] + kw * g.dilation[2] - g.pad_begin[2];
                    if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 ||
                        iw >= g.in[2])
                      continue;
                    const float xv =
                        x[(((n * g.in_channels + c0 + c) * g.in[0] + id) * g.in[1] + ih) * g.in[2] +
                          iw];
                    const float wv =
                        w[(((m * cg + c) * g.kernel[0] + kd) * g.kernel[1] + kh) * g.kernel[2] +
                          kw];
                    acc += static_cast<double>(xv) * wv;
                  }
            y[(((n * g.out_channels + m) * g.out[0] + od) * g.out[1] + oh) * g.out[2] + ow] =
                std::min(std::max(static_cast<float>(acc), g.act_min), g.act_max);
          }
    }
}

// Scatter form: every input value x[n, c, i] adds x * w[c, m, k] to y[n, m, i * stride + k *
// dilation - pad] for the output channels m of c's group.
inline void conv_transpose_reference(const ConvGeometry& g, const float* x, const float* w,
                                     const float* bias, float* y) {
  const std::int64_t cg = g.in_channels / g.group, mg = g.out_channels / g.group;
  const std::int64_t out_pix = g.out_pixels();
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t m = 0; m < g.out_channels; ++m)
      for (std::int64_t p = 0; p < out_pix; ++p)
        y[(n * g.out_channels + m) * out_pix + p] = bias ? bias[m] : 0.0f;
  for (std::int64_t n = 0; n < g.batch; ++n)
    for (std::int64_t c = 0; c < g.in_channels; ++c) {
      const std::int64_t grp = c / cg;
      for (std::int64_t id = 0; id < g.in[0]; ++id)
        for (std::int64_t ih = 0; ih < g.in[1]; ++ih)
          for (std::int64_t iw = 0; iw < g.in[2]; ++iw) {
            const float xv =
                x[(((n * g.in_channels + c) * g.in[0] + id) * g.in[1] + ih) * g.in[2] + iw];
            for (std::int64_t mm = 0; mm < mg; ++mm)
              for (std::int64_t kd = 0; kd < g.kernel[0]; ++kd)
                for (std::int64_t kh = 0; kh < g.kernel[1]; ++kh)
                  for (std::int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                    const std::int64_t od = id * g.stride[0] + kd * g.dilation[0] - g.pad_begin[0];
                    const std::int64_t oh = ih * g.stride[1] + kh * g.dilation[1] - g.pad_begin[1];
                    const std::int64_t ow = iw * g.stride[2] + kw * g.dilation[2] - g.pad_begin[2];
                    if (od < 0 || od >= g.out[0] || oh < 0 || oh >= g.out[1] || ow < 0 ||
                        ow >= g.out[2])
                      continue;
                    const std::int64_t m = grp * mg + mm;
                    const float wv =
                        w[(((c * mg + mm) * g.kernel[0] + kd) * g.kernel[1] + kh) * g.kernel[2] +
                          kw];
                    y[(((n * g.out_channels + m) * g.out[0] + od) * g.out[1] + oh) * g.out[2] +
                      ow] += xv * wv;
                  }
          }
    }
  for (std::int64_t k = 0; k < g.batch * g.out_channels * out_pix; ++k)
    y[k] = std::min(std::max(y[k], g.act_min), g.act_max);
}

}  // namespace mpq
