// Reverse mode (sim/backward.hpp) beyond what tests/e2e/test_gradients.py compares with
// PyTorch: the straight-through estimator of fake quantizers, and the refusal of a network
// with an op that has no backward rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "onnx_builder.hpp"
#include "prepared_network.hpp"
#include "sim/backward.hpp"

namespace mpq {
namespace {

using test::OnnxBuilder;
using test::prepared;

// y = x * w + b, all [1, 6].
Network affine_net() {
  OnnxBuilder b;
  b.input("x", {1, 6});
  b.output("y", {1, 6});
  b.initializer("w", {6}, {0.5f, -1.0f, 0.3f, 0.9f, -0.2f, 0.1f});
  b.initializer("b", {6}, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f});
  b.node("Mul", {"x", "w"}, {"m"});
  b.node("Add", {"m", "b"}, {"y"});
  PrepareOptions opts;
  opts.canonicalize = false;  // keep m: the affine chain would be fused
  return prepared(b.save("backward_affine.onnx"), opts);
}

Tensor row(std::vector<float> v) {
  Tensor t = Tensor::zeros({1, static_cast<std::int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.f.begin());
  return t;
}

// Clamp to [-0.5, 0.5], then steps of 0.25.
void quantize(std::span<float> v) {
  for (float& e : v) e = std::nearbyint(std::clamp(e, -0.5f, 0.5f) * 4.0f) / 4.0f;
}

TEST(Backward, QuantizersPassGradientsStraightThroughInsideTheirClippingRange) {
  const Network net = affine_net();
  auto bw = Backward::create(net);
  ASSERT_TRUE(bw.ok()) << bw.error().message;
  ASSERT_TRUE(bw->set_quantizer("m", quantize, -0.5f, 0.5f).ok());
  const std::vector<float> x{-2.0f, 0.6f, -0.2f, 0.1f, 0.4f, 1.5f};
  auto y = bw->forward(std::vector<Tensor>{row(x)});
  ASSERT_TRUE(y.ok()) << y.error().message;
  const std::vector<float> w{0.5f, -1.0f, 0.3f, 0.9f, -0.2f, 0.1f};
  for (std::size_t k = 0; k < 6; ++k) {
    float m = x[k] * w[k];
    quantize(std::span<float>(&m, 1));
    EXPECT_FLOAT_EQ(y->at(0).f[k], m + 0.1f * static_cast<float>(k + 1)) << k;
  }
  ASSERT_TRUE(bw->backward(std::vector<Tensor>{row({1, 1, 1, 1, 1, 1})}).ok());
  const Tensor* dm = bw->grad("m");
  const Tensor* dx = bw->grad("x");
  const Tensor* dw = bw->grad("w");
  const Tensor* db = bw->grad("b");
  ASSERT_TRUE(dm && dx && dw && db);
  for (std::size_t k = 0; k < 6; ++k) {
    const float m = x[k] * w[k];
    const float pass = m >= -0.5f && m <= 0.5f ? 1.0f : 0.0f;  // m = -1, -0.6 and 0.15 ...
    EXPECT_EQ(dm->f[k], pass) << k;
    EXPECT_FLOAT_EQ(dx->f[k], pass * w[k]) << k;
    EXPECT_FLOAT_EQ(dw->f[k], pass * x[k]) << k;
    EXPECT_EQ(db->f[k], 1.0f) << k;
  }
  // Elements 0 and 1 lie outside the range (m = -1 and -0.6): their gradient is cut.
  EXPECT_EQ(dx->f[0], 0.0f);
  EXPECT_EQ(dx->f[1], 0.0f);
  EXPECT_NE(dx->f[2], 0.0f);
}

TEST(Backward, AQuantizedWeightsGradientIsZeroWhereTheFloatWeightIsClipped) {
  const Network net = affine_net();
  auto bw = Backward::create(net);
  ASSERT_TRUE(bw.ok()) << bw.error().message;
  Tensor wq = net.model.initializers.at("w");
  quantize(std::span<float>(wq.f.data(), wq.f.size()));
  ASSERT_TRUE(bw->set_quantized_constant("w", &wq, -0.5f, 0.5f).ok());
  const std::vector<float> x{1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  auto y = bw->forward(std::vector<Tensor>{row(x)});
  ASSERT_TRUE(y.ok()) << y.error().message;
  ASSERT_TRUE(bw->backward(std::vector<Tensor>{row({1, 1, 1, 1, 1, 1})}).ok());
  const Tensor& w = net.model.initializers.at("w");
  const Tensor* dw = bw->grad("w");
  const Tensor* dx = bw->grad("x");
  ASSERT_TRUE(dw && dx);
  for (std::size_t k = 0; k < 6; ++k) {
    const bool inside = w.f[k] >= -0.5f && w.f[k] <= 0.5f;
    EXPECT_EQ(dw->f[k], inside ? x[k] : 0.0f) << k;
    EXPECT_EQ(dx->f[k], wq.f[k]) << k;  // through the quantized weight the kernel read
  }
}

TEST(Backward, ANetworkThroughAnOpWithoutABackwardRuleIsRefusedNamingIt) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.output("y", {1, 4});
  b.initializer("d", {1}, {0.75f});
  auto* mod = b.node("Mod", {"x", "d"}, {"y"}, "wrap");
  OnnxBuilder::attr_int(mod, "fmod", 1);
  const Network net = prepared(b.save("backward_mod.onnx"));
  auto bw = Backward::create(net);
  ASSERT_FALSE(bw.ok());
  EXPECT_NE(bw.error().message.find("no backward rule for op Mod"), std::string::npos)
      << bw.error().message;
  EXPECT_NE(bw.error().message.find("wrap"), std::string::npos) << bw.error().message;
}

TEST(Backward, NoGradientFlowsThroughOpsThatSayNone) {
  // y = x + Floor(x): dy/dx is 1 (Floor contributes nothing), and Floor needs no rule.
  OnnxBuilder b;
  b.input("x", {1, 3});
  b.output("y", {1, 3});
  b.node("Floor", {"x"}, {"f"});
  b.node("Add", {"x", "f"}, {"y"});
  const Network net = prepared(b.save("backward_floor.onnx"));
  auto bw = Backward::create(net);
  ASSERT_TRUE(bw.ok()) << bw.error().message;
  EXPECT_FALSE(bw->on_gradient_path("f"));
  ASSERT_TRUE(bw->forward(std::vector<Tensor>{row({0.5f, 1.5f, -2.25f})}).ok());
  ASSERT_TRUE(bw->backward(std::vector<Tensor>{row({2, 3, 4})}).ok());
  const Tensor* dx = bw->grad("x");
  ASSERT_TRUE(dx);
  EXPECT_EQ(dx->f, (FloatBuffer{2, 3, 4}));
}

}  // namespace
}  // namespace mpq
