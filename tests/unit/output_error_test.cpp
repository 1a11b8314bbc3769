// The output error of a weight change from the input moments (sim/output_error.hpp) equals the
// mean squared change of the op's output when the engine runs the op with the changed weights:
// grouped, strided, padded and dilated Convs, and a Gemm.
#include <gtest/gtest.h>

#include "onnx_builder.hpp"
#include "prepared_network.hpp"
#include "sim/engine.hpp"
#include "sim/output_error.hpp"

namespace mpq {
namespace {

// Mean over batch and positions of (y'[c] - y[c])^2 for output channel c (NC... layout) or
// column c (rows x columns layout).
double measured_error(const Tensor& y, const Tensor& y2, std::int64_t channel,
                      bool channels_first) {
  const std::int64_t batch = y.shape[0], channels = channels_first ? y.shape[1] : y.shape.back();
  const std::int64_t inner = channels_first ? y.size() / (batch * channels) : 1;
  const std::int64_t outer = channels_first ? batch : y.size() / channels;
  double sum = 0;
  for (std::int64_t b = 0; b < outer; ++b)
    for (std::int64_t k = 0; k < inner; ++k) {
      const auto i = static_cast<std::size_t>((b * channels + channel) * inner + k);
      const double d = static_cast<double>(y2.f[i]) - y.f[i];
      sum += d * d;
    }
  return sum / static_cast<double>(outer * inner);
}

void expect_matches(const std::string& path, const std::string& weight, const Shape& x_shape,
                    std::int64_t channel, bool channels_first) {
  const Network net = test::prepared(path);
  Tensor x = Tensor::zeros(x_shape);
  x.f.assign(x.f.size(), 0.0f);
  const auto v = test::random_values(x.f.size(), 17, -0.5f, 1.5f);  // not zero-mean
  std::copy(v.begin(), v.end(), x.f.begin());
  const Tensor& w = net.model.initializers.at(weight);
  const OpNode* op = nullptr;
  for (const auto& n : net.model.nodes)
    if (n.inputs.size() > 1 && n.inputs[1] == weight) op = &n;
  ASSERT_NE(op, nullptr);
  ASSERT_TRUE(supports_input_moments(*op, w.shape));
  InputMoments m;
  accumulate_input_moments(*op, w.shape, x, m);
  // A change of output channel `channel`'s weights only (weight axis 0 for Conv / transB Gemm).
  const std::int64_t fan_in = m.fan_in, channels = w.size() / fan_in;
  const auto delta = test::random_values(static_cast<std::size_t>(fan_in), 23, -0.1f, 0.1f);
  Tensor w2 = w;
  std::vector<double> dw(delta.begin(), delta.end());
  for (std::int64_t k = 0; k < fan_in; ++k)
    w2.f[static_cast<std::size_t>(channel * fan_in + k)] += delta[static_cast<std::size_t>(k)];
  // The float change actually applied (the sum rounds).
  for (std::int64_t k = 0; k < fan_in; ++k) {
    const auto i = static_cast<std::size_t>(channel * fan_in + k);
    dw[static_cast<std::size_t>(k)] = static_cast<double>(w2.f[i]) - w.f[i];
  }
  auto e = Engine::create(net);
  ASSERT_TRUE(e.ok());
  auto y = e->run(std::span<const Tensor>(&x, 1));
  ASSERT_TRUE(y.ok()) << y.error().message;
  ASSERT_TRUE(e->set_constant(weight, &w2).ok());
  auto y2 = e->run(std::span<const Tensor>(&x, 1));
  ASSERT_TRUE(y2.ok());
  const double want = measured_error(y->at(0), y2->at(0), channel, channels_first);
  const double got = m.output_error(dw, channel, channels);
  EXPECT_GT(want, 0.0);
  EXPECT_NEAR(got, want, 1e-4 * want) << path << " channel " << channel;
}

TEST(OutputError, GroupedStridedPaddedConv) {
  test::OnnxBuilder b;
  b.input("x", {2, 4, 9, 8});
  b.initializer("w", {6, 2, 3, 3}, test::random_values(6 * 2 * 9, 3));
  auto* n = b.node("Conv", {"x", "w"}, {"y"}, "conv");
  test::OnnxBuilder::attr_int(n, "group", 2);
  test::OnnxBuilder::attr_ints(n, "strides", {2, 1});
  test::OnnxBuilder::attr_ints(n, "pads", {1, 0, 2, 1});
  test::OnnxBuilder::attr_ints(n, "dilations", {1, 2});
  b.output("y", {2, 6, -1, -1});
  const std::string path = b.save("output_error_conv.onnx");
  for (std::int64_t c : {0, 4}) expect_matches(path, "w", {2, 4, 9, 8}, c, true);
}

TEST(OutputError, GemmWithTransposedWeight) {
  test::OnnxBuilder b;
  b.input("x", {5, 7});
  b.initializer("w", {3, 7}, test::random_values(21, 4));
  auto* n = b.node("Gemm", {"x", "w"}, {"y"}, "gemm");
  test::OnnxBuilder::attr_int(n, "transB", 1);
  b.output("y", {5, 3});
  expect_matches(b.save("output_error_gemm.onnx"), "w", {5, 7}, 2, false);
}

}  // namespace
}  // namespace mpq
