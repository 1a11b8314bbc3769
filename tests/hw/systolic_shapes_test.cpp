// The systolic model's compute cycles on the conv layers of ResNet-18 and AlexNet, in SCALE-Sim's
// own topology files (scale-sim-v2: topologies/sparsity/Resnet18.csv, topologies/conv_nets/
// alexnet.csv, inputs already padded), on a 32 x 32 weight-stationary array, against the fold
// formula worked out by hand: output = ceil((I - F + S) / S) per side, M = output pixels,
// K = window, N = filters; WS maps Sr = K, Sc = N, T = M; cycles = ceil(K/32) x ceil(N/32) x P - 1
// with P = 2R + C + T - 2 = 64 + 32 + M - 2.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "hw/scalesim_topology.hpp"
#include "hw/systolic_model.hpp"

namespace mpq {
namespace {

const char* kResNet18 =
    R"(Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
Conv1,224,224,7,7,3,64,2,
Conv2_1a,56,56,3,3,64,64,1,
Conv2_1b,56,56,3,3,64,64,1,
Conv2_2a,56,56,3,3,64,64,1,
Conv2_2b,56,56,3,3,64,64,1,
Conv3_1a,56,56,3,3,64,128,2,
Conv3_1b,28,28,3,3,128,128,1,
Conv3_s,56,56,1,1,64,128,2,
Conv3_2a,28,28,3,3,128,128,1,
Conv3_2b,28,28,3,3,128,128,1,
Conv4_1a,28,28,3,3,128,256,2,
Conv4_1b,14,14,3,3,256,256,1,
Conv4_s,28,28,1,1,128,256,2,
Conv4_2a,14,14,3,3,256,256,1,
Conv4_2b,14,14,3,3,256,256,1,
Conv5_1a,14,14,3,3,256,512,2,
Conv5_1b,7,7,3,3,512,512,1,
Conv5_s,14,14,1,1,256,512,2,
Conv5_2a,7,7,3,3,512,512,1,
Conv5_2b,7,7,3,3,512,512,1,
FC,1,1,1,1,512,1000,1,
)";

const char* kAlexNet =
    R"(Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
Conv1     ,224         ,224        ,11           ,11          ,3       ,96        ,4      ,
Conv2     ,27         ,27        ,5            ,5           ,96      ,256       ,1      ,
Conv3     ,13          ,13         ,3            ,3           ,256     ,384       ,1      ,
Conv4     ,13          ,13         ,3            ,3           ,384     ,384       ,1      ,
Conv5     ,13          ,13         ,3            ,3           ,384     ,256       ,1      ,
)";

hw::SystolicArray ws32() {
  hw::SystolicArray a;
  a.rows = 32, a.cols = 32, a.dataflow = hw::Dataflow::WeightStationary;
  return a;
}

void expect_cycles(const char* topology,
                   const std::vector<std::pair<const char*, std::int64_t>>& expected) {
  auto layers = hw::parse_scalesim_topology(topology, "topology.csv");
  ASSERT_TRUE(layers.ok()) << layers.error().message;
  ASSERT_EQ(layers->size(), expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    const auto& w = (*layers)[k];
    EXPECT_EQ(w.name, expected[k].first);
    EXPECT_EQ(hw::map_gemm(ws32(), w.gemm_m, w.gemm_n, w.gemm_k).compute_cycles(),
              expected[k].second)
        << w.name;
  }
}

TEST(SystolicShapes, ResNet18ConvLayers) {
  expect_cycles(
      kResNet18,
      {
          {"Conv1", 121939},     // M 110x110 = 12100, K 7x7x3 = 147, N 64:
                                 // 5 x 2 folds, P = 64 + 32 + 12100 - 2 = 12194, 10 x 12194 - 1
          {"Conv2_1a", 108359},  // M 54x54 = 2916, K 3x3x64 = 576, N 64:
                                 // 18 x 2 folds, P = 64 + 32 + 2916 - 2 = 3010, 36 x 3010 - 1
          {"Conv2_1b", 108359},  // M 54x54 = 2916, K 3x3x64 = 576, N 64:
                                 // 18 x 2 folds, P = 64 + 32 + 2916 - 2 = 3010, 36 x 3010 - 1
          {"Conv2_2a", 108359},  // M 54x54 = 2916, K 3x3x64 = 576, N 64:
                                 // 18 x 2 folds, P = 64 + 32 + 2916 - 2 = 3010, 36 x 3010 - 1
          {"Conv2_2b", 108359},  // M 54x54 = 2916, K 3x3x64 = 576, N 64:
                                 // 18 x 2 folds, P = 64 + 32 + 2916 - 2 = 3010, 36 x 3010 - 1
          {"Conv3_1a", 63215},   // M 28x28 = 784, K 3x3x64 = 576, N 128:
                                 // 18 x 4 folds, P = 64 + 32 + 784 - 2 = 878, 72 x 878 - 1
          {"Conv3_1b", 110879},  // M 26x26 = 676, K 3x3x128 = 1152, N 128:
                                 // 36 x 4 folds, P = 64 + 32 + 676 - 2 = 770, 144 x 770 - 1
          {"Conv3_s", 7479},     // M 29x29 = 841, K 1x1x64 = 64, N 128:
                                 // 2 x 4 folds, P = 64 + 32 + 841 - 2 = 935, 8 x 935 - 1
          {"Conv3_2a", 110879},  // M 26x26 = 676, K 3x3x128 = 1152, N 128:
                                 // 36 x 4 folds, P = 64 + 32 + 676 - 2 = 770, 144 x 770 - 1
          {"Conv3_2b", 110879},  // M 26x26 = 676, K 3x3x128 = 1152, N 128:
                                 // 36 x 4 folds, P = 64 + 32 + 676 - 2 = 770, 144 x 770 - 1
          {"Conv4_1a", 83519},   // M 14x14 = 196, K 3x3x128 = 1152, N 256:
                                 // 36 x 8 folds, P = 64 + 32 + 196 - 2 = 290, 288 x 290 - 1
          {"Conv4_1b", 137087},  // M 12x12 = 144, K 3x3x256 = 2304, N 256:
                                 // 72 x 8 folds, P = 64 + 32 + 144 - 2 = 238, 576 x 238 - 1
          {"Conv4_s", 10207},    // M 15x15 = 225, K 1x1x128 = 128, N 256:
                                 // 4 x 8 folds, P = 64 + 32 + 225 - 2 = 319, 32 x 319 - 1
          {"Conv4_2a", 137087},  // M 12x12 = 144, K 3x3x256 = 2304, N 256:
                                 // 72 x 8 folds, P = 64 + 32 + 144 - 2 = 238, 576 x 238 - 1
          {"Conv4_2b", 137087},  // M 12x12 = 144, K 3x3x256 = 2304, N 256:
                                 // 72 x 8 folds, P = 64 + 32 + 144 - 2 = 238, 576 x 238 - 1
          {"Conv5_1a", 164735},  // M 7x7 = 49, K 3x3x256 = 2304, N 512:
                                 // 72 x 16 folds, P = 64 + 32 + 49 - 2 = 143, 1152 x 143 - 1
          {"Conv5_1b", 274175},  // M 5x5 = 25, K 3x3x512 = 4608, N 512:
                                 // 144 x 16 folds, P = 64 + 32 + 25 - 2 = 119, 2304 x 119 - 1
          {"Conv5_s", 20223},    // M 8x8 = 64, K 1x1x256 = 256, N 512:
                                 // 8 x 16 folds, P = 64 + 32 + 64 - 2 = 158, 128 x 158 - 1
          {"Conv5_2a", 274175},  // M 5x5 = 25, K 3x3x512 = 4608, N 512:
                                 // 144 x 16 folds, P = 64 + 32 + 25 - 2 = 119, 2304 x 119 - 1
          {"Conv5_2b", 274175},  // M 5x5 = 25, K 3x3x512 = 4608, N 512:
                                 // 144 x 16 folds, P = 64 + 32 + 25 - 2 = 119, 2304 x 119 - 1
          {"FC", 48639},         // M 1x1 = 1, K 1x1x512 = 512, N 1000:
                                 // 16 x 32 folds, P = 64 + 32 + 1 - 2 = 95, 512 x 95 - 1
      });
}

TEST(SystolicShapes, AlexNetConvLayers) {
  expect_cycles(
      kAlexNet,
      {
          {"Conv1", 112283},  // M 55x55 = 3025, K 11x11x3 = 363, N 96:
                              // 12 x 3 folds, P = 64 + 32 + 3025 - 2 = 3119, 36 x 3119 - 1
          {"Conv2", 373799},  // M 23x23 = 529, K 5x5x96 = 2400, N 256:
                              // 75 x 8 folds, P = 64 + 32 + 529 - 2 = 623, 600 x 623 - 1
          {"Conv3", 185759},  // M 11x11 = 121, K 3x3x256 = 2304, N 384:
                              // 72 x 12 folds, P = 64 + 32 + 121 - 2 = 215, 864 x 215 - 1
          {"Conv4", 278639},  // M 11x11 = 121, K 3x3x384 = 3456, N 384:
                              // 108 x 12 folds, P = 64 + 32 + 121 - 2 = 215, 1296 x 215 - 1
          {"Conv5", 185759},  // M 11x11 = 121, K 3x3x384 = 3456, N 256:
                              // 108 x 8 folds, P = 64 + 32 + 121 - 2 = 215, 864 x 215 - 1
      });
}

TEST(SystolicShapes, TopologyImport) {
  auto layers = hw::parse_scalesim_topology(kAlexNet, "alexnet.csv");
  ASSERT_TRUE(layers.ok());
  const auto& conv1 = (*layers)[0];
  // AlexNet conv1: 224x224x3 input, 11x11 filters, stride 4: ceil((224 - 11 + 4) / 4) = 55.
  EXPECT_EQ(conv1.op_class, "conv");
  EXPECT_EQ(conv1.gemm_m, 55 * 55);
  EXPECT_EQ(conv1.macs, 55 * 55 * 96 * 363);  // 105,415,200
  EXPECT_EQ(conv1.weight_elements, 11 * 11 * 3 * 96);
  EXPECT_EQ(conv1.input_elements, 224 * 224 * 3);
  auto fc = hw::parse_scalesim_topology(kResNet18, "resnet18.csv");
  ASSERT_TRUE(fc.ok());
  EXPECT_EQ(fc->back().op_class, "gemm");  // a 1x1 filter over a 1x1 input: fully connected
  auto bad = hw::parse_scalesim_topology(
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
      "Strides,\nConv1,224,224,11,11,three,96,4,\n",
      "bad.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "bad.csv:2: Conv1: Channels: expected a positive integer, got 'three'");
}

}  // namespace
}  // namespace mpq
