// Every conv kernel path against the plain reference loops (sim/ops/conv_reference.hpp), one
// table row per geometry: dense, grouped, depthwise (with and without a channel multiplier,
// partial channel blocks, odd widths, strides, dilations, asymmetric pads), 1-D and 3-D, each
// with no epilogue, a fused clamp, and a fused residual Add before the clamp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "onnx_builder.hpp"
#include "sim/ops/conv_common.hpp"
#include "sim/ops/conv_reference.hpp"

namespace mpq {
namespace {

struct ConvRow {
  const char* name;
  std::int64_t n, c, m, group;
  std::array<std::int64_t, 3> in, kernel, stride, dilation, pad_begin, pad_end;
  int spatial;
};

// in/kernel/... are (depth, height, width), right-aligned as in ConvGeometry.
const ConvRow kRows[] = {
    {"dense_3x3_pad1",
     2,
     5,
     7,
     1,
     {1, 9, 11},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"dense_1x1_stride2",
     2,
     16,
     24,
     1,
     {1, 14, 14},
     {1, 1, 1},
     {1, 2, 2},
     {1, 1, 1},
     {0, 0, 0},
     {0, 0, 0},
     2},
    {"dense_1x1_stride2_end_pad",
     2,
     8,
     16,
     1,
     {1, 13, 14},
     {1, 1, 1},
     {1, 2, 2},
     {1, 1, 1},
     {0, 0, 0},
     {0, 2, 1},
     2},
    // 49 pixels, 40 output channels: the lane path's direct mode under Auto, chunks across
    // the two images.
    {"dense_1x1_small_map",
     2,
     24,
     40,
     1,
     {1, 7, 7},
     {1, 1, 1},
     {1, 1, 1},
     {1, 1, 1},
     {0, 0, 0},
     {0, 0, 0},
     2},
    {"dense_1x1_end_pad",
     1,
     6,
     8,
     1,
     {1, 5, 7},
     {1, 1, 1},
     {1, 1, 1},
     {1, 1, 1},
     {0, 0, 0},
     {0, 1, 2},
     2},
    {"dense_3x3_stride2_asym_pad",
     1,
     8,
     9,
     1,
     {1, 13, 10},
     {1, 3, 3},
     {1, 2, 2},
     {1, 1, 1},
     {0, 0, 1},
     {0, 1, 0},
     2},
    // Stride 1 with a wider left than right pad: the implicit path's planes share the zero
    // columns (a row's right padding is the next row's left padding).
    {"dense_3x3_wide_left_pad",
     2,
     3,
     10,
     1,
     {1, 7, 9},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 1, 2},
     {0, 2, 1},
     2},
    // K = 1152 packs in three K blocks of 384 rows, which start inside a channel's taps.
    {"dense_3x3_s2_deep",
     1,
     128,
     16,
     1,
     {1, 9, 11},
     {1, 3, 3},
     {1, 2, 2},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"dense_dilated",
     1,
     4,
     6,
     1,
     {1, 12, 12},
     {1, 3, 3},
     {1, 1, 1},
     {1, 2, 2},
     {0, 2, 2},
     {0, 2, 2},
     2},
    {"dense_one_input_channel",
     3,
     1,
     32,
     1,
     {1, 28, 28},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    // Channel lanes (Auto takes it for these strided convs): 40 channels = a partial third
    // vector, K = 144 in two K blocks; 84 channels = a 4-vector and a partial 2-vector block,
    // asymmetric pads and a dilation; batch 1 over 225 pixels = several pixel chunks.
    {"dense_3x3_s2_lanes",
     2,
     16,
     40,
     1,
     {1, 13, 11},
     {1, 3, 3},
     {1, 2, 2},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"dense_3x3_s2_lanes_84_dilated",
     1,
     20,
     84,
     1,
     {1, 12, 10},
     {1, 3, 3},
     {1, 2, 2},
     {1, 1, 2},
     {0, 1, 0},
     {0, 1, 1},
     2},
    {"dense_3x3_s2_lanes_chunks",
     1,
     16,
     32,
     1,
     {1, 30, 30},
     {1, 3, 3},
     {1, 2, 2},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    // Winograd F(2x2, 3x3) (Auto takes it for these): tile rows of 6 and 4 tiles packed 2 and
    // 4 to a vector, across images, with a partial last group; 40 output channels = a
    // partial 8-row weight panel; a 40-wide map = two 16-tile chunks, asymmetric pads.
    {"dense_3x3_winograd",
     2,
     16,
     40,
     1,
     {1, 13, 11},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"dense_3x3_winograd_small_maps",
     3,
     16,
     24,
     1,
     {1, 5, 7},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"dense_3x3_winograd_wide_asym",
     1,
     16,
     16,
     1,
     {1, 9, 40},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 0, 2},
     {0, 2, 0},
     2},
    // One tile row per vector (19 tiles: 16 + 3) with an odd output height and width (7 x 37):
    // a folded MaxPool drops the last tile row and column.
    {"dense_3x3_winograd_wide_odd",
     2,
     16,
     16,
     1,
     {1, 7, 37},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    // Winograd with 136 input and output channels: two input channel blocks (128 + 8)
    // accumulated in M, two output channel blocks.
    {"dense_3x3_winograd_channel_blocks",
     2,
     136,
     136,
     1,
     {1, 6, 6},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"grouped", 2, 8, 12, 4, {1, 10, 10}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}, 2},
    {"depthwise_s1",
     2,
     72,
     72,
     72,
     {1, 14, 14},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"depthwise_s2",
     2,
     64,
     64,
     64,
     {1, 28, 28},
     {1, 3, 3},
     {1, 2, 2},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"depthwise_partial_block_odd_width",
     2,
     20,
     20,
     20,
     {1, 9, 23},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"depthwise_5x5_dilated_s2",
     1,
     17,
     17,
     17,
     {1, 19, 21},
     {1, 5, 5},
     {1, 2, 2},
     {1, 2, 2},
     {0, 4, 3},
     {0, 2, 4},
     2},
    {"depthwise_7x7_no_pad",
     1,
     16,
     16,
     16,
     {1, 7, 7},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 0, 0},
     {0, 0, 0},
     2},
    {"depthwise_multiplier_2",
     2,
     6,
     12,
     6,
     {1, 10, 10},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"depthwise_s2_wide_rows",
     1,
     8,
     8,
     8,
     {1, 5, 70},
     {1, 3, 3},
     {1, 2, 2},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"depthwise_s2_narrow",
     2,
     24,
     24,
     24,
     {1, 14, 14},
     {1, 3, 3},
     {1, 2, 2},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    // 7x7 planes: no two inner vectors, so plane_flat3x3 runs all four as edge vectors.
    {"depthwise_3x3_small_plane",
     2,
     24,
     24,
     24,
     {1, 7, 7},
     {1, 3, 3},
     {1, 1, 1},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"depthwise_7x7_same",
     1,
     5,
     5,
     5,
     {1, 12, 12},
     {1, 7, 7},
     {1, 1, 1},
     {1, 1, 1},
     {0, 3, 3},
     {0, 3, 3},
     2},
    {"depthwise_s3",
     1,
     4,
     4,
     4,
     {1, 11, 11},
     {1, 3, 3},
     {1, 3, 3},
     {1, 1, 1},
     {0, 1, 1},
     {0, 1, 1},
     2},
    {"depthwise_1d",
     2,
     18,
     18,
     18,
     {1, 1, 30},
     {1, 1, 5},
     {1, 1, 2},
     {1, 1, 1},
     {0, 0, 2},
     {0, 0, 2},
     1},
    {"dense_3d", 1, 3, 4, 1, {4, 6, 6}, {2, 3, 3}, {1, 1, 1}, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}, 3},
};

ConvGeometry geometry(const ConvRow& r) {
  ConvGeometry g;
  g.spatial = r.spatial;
  g.batch = r.n;
  g.in_channels = r.c;
  g.out_channels = r.m;
  g.group = r.group;
  g.in = r.in;
  g.kernel = r.kernel;
  g.stride = r.stride;
  g.dilation = r.dilation;
  g.pad_begin = r.pad_begin;
  g.pad_end = r.pad_end;
  for (std::size_t d = 0; d < 3; ++d)
    g.out[d] = (r.in[d] + r.pad_begin[d] + r.pad_end[d] - (r.kernel[d] - 1) * r.dilation[d] - 1) /
                   r.stride[d] +
               1;
  return g;
}

class ConvPaths : public ::testing::TestWithParam<ConvRow> {};

// Each row runs three ways: plain, with a fused clamp, and with a fused residual Add followed
// by the clamp (the reference then adds and clamps after an unclamped conv); 2-D rows also a
// fourth, a fused clamp and 2x2 stride-2 max pool (the reference pools its clamped output).
enum class Epilogue { None, Clamp, ResidualClamp, ClampPool };

// The 2x2 stride-2 max pool of NCHW planes of g's output shape (odd last row / column dropped).
std::vector<float> max_pool_2x2(const ConvGeometry& g, const std::vector<float>& y) {
  const std::int64_t OH = g.out[1], OW = g.out[2], PH = OH / 2, PW = OW / 2;
  std::vector<float> p(static_cast<std::size_t>(g.batch * g.out_channels * PH * PW));
  for (std::int64_t c = 0; c < g.batch * g.out_channels; ++c)
    for (std::int64_t i = 0; i < PH; ++i)
      for (std::int64_t j = 0; j < PW; ++j) {
        float m = -std::numeric_limits<float>::infinity();
        for (std::int64_t a = 0; a < 2; ++a)
          for (std::int64_t b = 0; b < 2; ++b)
            m = std::max(m, y[static_cast<std::size_t>((c * OH + 2 * i + a) * OW + 2 * j + b)]);
        p[static_cast<std::size_t>((c * PH + i) * PW + j)] = m;
      }
  return p;
}

TEST_P(ConvPaths, EveryPathMatchesTheReference) {
  const ConvRow& row = GetParam();
  for (const Epilogue epi :
       {Epilogue::None, Epilogue::Clamp, Epilogue::ResidualClamp, Epilogue::ClampPool}) {
    const bool clamp = epi != Epilogue::None;
    ConvGeometry g = geometry(row);
    if (epi == Epilogue::ClampPool && (g.spatial != 2 || g.out[1] < 2 || g.out[2] < 2)) continue;
    const std::int64_t cg = g.in_channels / g.group, k = cg * g.kernel_pixels();
    const auto x = test::random_values(static_cast<std::size_t>(numel(g.x_shape())), 1);
    const auto w = test::random_values(static_cast<std::size_t>(numel(g.w_shape(false))), 2);
    const auto b = test::random_values(static_cast<std::size_t>(g.out_channels), 3);
    const auto res = test::random_values(static_cast<std::size_t>(numel(g.y_shape())), 4);
    std::vector<float> ref(static_cast<std::size_t>(numel(g.y_shape())));
    conv_reference(g, x.data(), w.data(), b.data(), ref.data());
    if (clamp) {
      g.act_min = -0.5f;
      g.act_max = 0.75f;
    }
    if (epi == Epilogue::ResidualClamp) g.residual = res.data();
    for (std::size_t i = 0; i < ref.size(); ++i)
      ref[i] = std::min(std::max(ref[i] + (g.residual ? res[i] : 0.0f), g.act_min), g.act_max);
    if (epi == Epilogue::ClampPool) {
      ref = max_pool_2x2(g, ref);
      g.max_pool = true;
    }
    // Float accumulation of k products of magnitude <= 1, against a double reference.
    const float tol = 4e-7f * static_cast<float>(k + 1);
    for (const ConvPath path : {ConvPath::Auto, ConvPath::Packed, ConvPath::Implicit,
                                ConvPath::Eigen, ConvPath::ChannelLanes, ConvPath::Winograd}) {
      set_conv_path(path);
      std::vector<float> y(ref.size(), std::nanf(""));
      conv_forward(g, x.data(), w.data(), b.data(), y.data());
      set_conv_path(ConvPath::Auto);
      for (std::size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], ref[i], tol)
            << row.name << " path " << static_cast<int>(path) << " epilogue "
            << static_cast<int>(epi) << ", element " << i;
    }
    for (const DepthwisePath path :
         {DepthwisePath::Direct, DepthwisePath::Blocked, DepthwisePath::Planes}) {
      set_depthwise_path(path);
      std::vector<float> y(ref.size(), std::nanf(""));
      conv_forward(g, x.data(), w.data(), b.data(), y.data());
      set_depthwise_path(DepthwisePath::Auto);
      for (std::size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], ref[i], tol)
            << row.name << " depthwise path " << static_cast<int>(path) << " epilogue "
            << static_cast<int>(epi) << ", element " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Rows, ConvPaths, ::testing::ValuesIn(kRows),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace mpq
