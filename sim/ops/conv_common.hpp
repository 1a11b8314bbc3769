#pragma once
// Conv / ConvTranspose geometry shared by the fast kernels (conv.cpp, conv_transpose.cpp), the
// naive reference loops (conv_reference.hpp) and tests.
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "graph/model.hpp"
#include "graph/tensor.hpp"
#include "sim/op_registry.hpp"

namespace mpq {

// Resolved attributes of one Conv or ConvTranspose call. Spatial extents are right-aligned into
// 3 dims (depth, height, width): a 2-D conv has depth 1, a 1-D conv depth and height 1, so one
// loop nest serves all ranks. For both ops an output coordinate o and input coordinate i meet
// through kernel tap k when  o * stride + k * dilation - pad_begin == i  (Conv)  or
// i * stride + k * dilation - pad_begin == o  (ConvTranspose).
struct ConvGeometry {
  int spatial = 2;  // spatial rank of the ONNX tensors: 1, 2 or 3
  std::int64_t batch = 1;
  std::int64_t in_channels = 1;
  std::int64_t out_channels = 1;
  std::int64_t group = 1;
  std::array<std::int64_t, 3> in{1, 1, 1};
  std::array<std::int64_t, 3> out{1, 1, 1};
  std::array<std::int64_t, 3> kernel{1, 1, 1};
  std::array<std::int64_t, 3> stride{1, 1, 1};
  std::array<std::int64_t, 3> dilation{1, 1, 1};
  std::array<std::int64_t, 3> pad_begin{0, 0, 0};
  std::array<std::int64_t, 3> pad_end{0, 0, 0};
  // Fused activation (a Relu or Clip the engine folded into the conv): every output is
  // clamped to [act_min, act_max] after the bias. From OpContext; ±infinity when none.
  float act_min = -std::numeric_limits<float>::infinity();
  float act_max = std::numeric_limits<float>::infinity();
  // Fused residual Add: y[e] = clamp(conv[e] + residual[e]) over the whole y_shape(); null
  // when none.
  const float* residual = nullptr;
  // The step's cache of weights derived from W (OpContext::derived); null when W is not a
  // constant or the caller keeps none.
  DerivedWeights* derived = nullptr;
  // y holds the 2x2 stride-2 max pool (last odd row / column dropped) of the clamped output,
  // pooled_y_shape() (OutputFolds::out_max_pool); never together with a residual.
  bool max_pool = false;
  bool has_activation() const {
    return act_min != -std::numeric_limits<float>::infinity() ||
           act_max != std::numeric_limits<float>::infinity();
  }

  std::int64_t in_pixels() const { return in[0] * in[1] * in[2]; }
  std::int64_t out_pixels() const { return out[0] * out[1] * out[2]; }
  std::int64_t kernel_pixels() const { return kernel[0] * kernel[1] * kernel[2]; }
  // True when the depth axis is trivial (1-D / 2-D convs, or 3-D ones with a single plane):
  // output plane 0 reads exactly input plane 0.
  bool planar() const { return in[0] == 1 && kernel[0] == 1 && out[0] == 1 && pad_begin[0] == 0; }
  // Shapes of the ONNX tensors X (Conv input / ConvTranspose input) and Y.
  Shape x_shape() const;
  Shape y_shape() const;
  Shape pooled_y_shape() const;
  // Weight shape: [M, C/group, k...] for Conv, [C, M/group, k...] for ConvTranspose.
  Shape w_shape(bool transpose) const;
};

// Geometry of a Conv node for input shape x and weight shape w; throws OpError on
// inconsistent shapes or attributes.
ConvGeometry conv_geometry(const OpNode& node, const Shape& x, const Shape& w);
// Geometry of a ConvTranspose node (output_shape / output_padding / auto_pad resolved).
ConvGeometry conv_transpose_geometry(const OpNode& node, const Shape& x, const Shape& w);

// Import-time check of the attributes shared by both ops (auto_pad value, list lengths).
std::optional<std::string> validate_conv_attributes(const OpNode& node);

// Fast kernels over raw NC(D)HW float buffers; y holds y_shape() elements, bias may be null.
void conv_forward(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                  float* y);
// Which GEMM strategy conv_forward uses for dense / grouped convs. Auto picks by shape and a
// cost estimate; the others force one path where it applies (for tests comparing every path
// with conv_reference): packed im2col panels, implicit GEMM over padded rows, Eigen, or
// channel lanes (output channels in the vector lanes, pixels broadcast), or Winograd
// F(2x2, 3x3). Depthwise convs always take the direct loop.
enum class ConvPath { Auto, Packed, Implicit, Eigen, ChannelLanes, Winograd };
void set_conv_path(ConvPath p);
ConvPath conv_path();

// Depthwise conv (group == in_channels, depth 1) by a direct loop (conv_depthwise.cpp).
void depthwise_conv(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                    float* y);
// Which depthwise kernel depthwise_conv uses: Auto takes the first that applies of Direct
// (conv_depthwise_direct.cpp), Blocked (channel blocks in a pixel-major buffer) and Planes
// (padded phase planes, the portable loop, which always applies); the others force one where
// it applies, else Planes (for tests comparing every path with conv_reference).
enum class DepthwisePath { Auto, Direct, Blocked, Planes };
void set_depthwise_path(DepthwisePath p);
DepthwisePath depthwise_path();
// AVX-512 depthwise straight from the NCHW planes; false when the shape does not fit it.
bool depthwise_direct(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                      float* y);
// Dense / grouped 1-D and 2-D convs on the AVX-512 paths (conv_gemm.cpp picks among Winograd,
// channel lanes, implicit and packed GEMM, per conv_path()); false when not built for AVX-512
// or the shape fits none of them.
bool conv_dense_avx512(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                       float* y);
void conv_transpose_forward(const ConvGeometry& g, const float* x, const float* w,
                            const float* bias, float* y);

// Reverse mode (conv_grad.cpp). The geometry of the ConvTranspose that maps g's output back to
// its input through the same taps (and vice versa): the input gradient of either op is the
// other op's forward pass with the same weights.
ConvGeometry transposed_geometry(const ConvGeometry& g);
// dw[m, c, k] = sum over images and output pixels o of dy[n, m, o] * x[n, c, tap k of o], for
// the Conv geometry g (a GEMM over im2col patches of x, image by image in order).
void conv_weight_grad(const ConvGeometry& g, const float* x, const float* dy, float* dw);
// Each image's own term of that sum: dw[n, m, c, k] (rows of |W| floats, one per image).
void conv_weight_grad_per_image(const ConvGeometry& g, const float* x, const float* dy, float* dw);
// db[m] = sum of dy over images and output pixels of channel m.
void channel_sums(const ConvGeometry& g, const float* dy, float* db);

// Registers ConvTranspose (conv_transpose.cpp); called by register_conv_ops.
void register_conv_transpose_op(OpTable& t);

}  // namespace mpq
