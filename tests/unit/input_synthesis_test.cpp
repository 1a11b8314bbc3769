// Data-free input synthesis (sim/input_synthesis.hpp): the Adam step, the total-variation prior's
// and ZeroQ's BatchNorm-matching loss's gradients against central differences, the synthetic:
// data spec, and a short synthesis on the bundled CNN.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "graph/onnx_import.hpp"
#include "prepared_network.hpp"
#include "search/synthetic_data.hpp"
#include "sim/adam.hpp"
#include "sim/input_synthesis.hpp"
#include "sim/total_variation.hpp"

namespace mpq {
namespace {

Tensor random_tensor(Shape s, unsigned seed) {
  Tensor t = Tensor::zeros(std::move(s));
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (float& v : t.f) v = d(rng);
  return t;
}

TEST(Adam, StepsFollowTheBiasCorrectedMoments) {
  AdamSettings s;
  s.learning_rate = 0.1;
  Adam opt(s, 3);
  std::vector<float> x{1.0f, -2.0f, 0.5f};
  const std::vector<std::vector<float>> grads{{0.4f, -3.0f, 0.0f}, {-0.2f, -1.0f, 2.0f}};
  // The same recurrences in double, written out.
  std::vector<double> m(3, 0.0), v(3, 0.0), want{1.0, -2.0, 0.5};
  for (std::size_t t = 1; t <= grads.size(); ++t) {
    const auto& g = grads[t - 1];
    for (std::size_t k = 0; k < 3; ++k) {
      m[k] = 0.9 * m[k] + 0.1 * g[k];
      v[k] = 0.999 * v[k] + 0.001 * double(g[k]) * g[k];
      const double mh = m[k] / (1 - std::pow(0.9, t)), vh = v[k] / (1 - std::pow(0.999, t));
      want[k] -= 0.1 * mh / (std::sqrt(vh) + 1e-8);
    }
    opt.step(x, g);
    for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(x[k], want[k], 1e-6) << t << "," << k;
  }
  // The first step moves every element with a gradient by the learning rate, against its sign.
  Adam first(s, 2);
  std::vector<float> y{0.0f, 0.0f};
  first.step(y, std::vector<float>{5.0f, -0.01f});
  EXPECT_NEAR(y[0], -0.1f, 1e-6);
  EXPECT_NEAR(y[1], 0.1f, 1e-5);
  EXPECT_EQ(first.steps(), 1);
}

TEST(Adam, MinimizesAQuadratic) {
  AdamSettings s;
  s.learning_rate = 0.05;
  Adam opt(s, 2);
  std::vector<float> x{3.0f, -4.0f};
  for (int it = 0; it < 2000; ++it) {
    const std::vector<float> g{2 * (x[0] - 1.0f), 2 * (x[1] + 0.5f)};
    opt.step(x, g);
  }
  EXPECT_NEAR(x[0], 1.0f, 1e-2);
  EXPECT_NEAR(x[1], -0.5f, 1e-2);
}

// Central differences of `loss` at every element of `x` against `grad`.
template <class Loss>
void expect_gradient(Tensor x, const Tensor& grad, Loss loss, double tol) {
  const float h = 1e-2f;
  for (std::size_t e = 0; e < x.f.size(); ++e) {
    const float keep = x.f[e];
    x.f[e] = keep + h;
    const double up = loss(x);
    x.f[e] = keep - h;
    const double down = loss(x);
    x.f[e] = keep;
    EXPECT_NEAR(grad.f[e], (up - down) / (2.0 * h), tol) << "element " << e;
  }
}

TEST(TotalVariation, ValueAndGradientMatchTheDefinitionAndCentralDifferences) {
  for (const bool last : {false, true}) {
    const Tensor x = random_tensor({2, 3, 5, 4}, last ? 7 : 3);
    const auto axes = spatial_axes(x.shape, last);
    EXPECT_EQ(axes, last ? std::vector<std::int64_t>({1, 2}) : std::vector<std::int64_t>({2, 3}));
    // By hand: neighbours along each spatial axis, per sample / 60 elements.
    double want = 0;
    const auto at = [&](std::int64_t n, std::int64_t a, std::int64_t b, std::int64_t c) {
      return double(x.f[((n * 3 + a) * 5 + b) * 4 + c]);
    };
    for (std::int64_t n = 0; n < 2; ++n)
      for (std::int64_t a = 0; a < 3; ++a)
        for (std::int64_t b = 0; b < 5; ++b)
          for (std::int64_t c = 0; c < 4; ++c) {
            if (last && a + 1 < 3) want += std::pow(at(n, a + 1, b, c) - at(n, a, b, c), 2);
            if (b + 1 < 5) want += std::pow(at(n, a, b + 1, c) - at(n, a, b, c), 2);
            if (!last && c + 1 < 4) want += std::pow(at(n, a, b, c + 1) - at(n, a, b, c), 2);
          }
    Tensor grad = Tensor::zeros(x.shape);
    const double weight = 0.7;
    EXPECT_NEAR(total_variation(x, axes, weight, &grad), want / 60.0, 1e-9);
    expect_gradient(
        x, grad, [&](const Tensor& t) { return weight * total_variation(t, axes, 1.0, nullptr); },
        1e-4);
  }
}

TEST(BatchNormMatching, GradientMatchesCentralDifferences) {
  const Tensor a = random_tensor({3, 2, 4}, 11), b = random_tensor({3, 3, 2, 2}, 12);
  std::vector<BatchNormTarget> targets(2);
  targets[0].mean = {0.3f, -0.2f};
  targets[0].std = {1.5f, 0.4f};
  targets[1].mean = {0.0f, 1.0f, -1.0f};
  targets[1].std = {0.8f, 1.2f, 2.0f};
  targets[1].epsilon = 1e-3f;
  const std::vector<const Tensor*> values{&a, &b};
  std::vector<Tensor> grads;
  const double loss = batchnorm_matching_loss(values, targets, &grads);
  EXPECT_GT(loss, 0.0);
  ASSERT_EQ(grads.size(), 2u);
  expect_gradient(
      a, grads[0],
      [&](const Tensor& t) {
        const std::vector<const Tensor*> v{&t, &b};
        return batchnorm_matching_loss(v, targets, nullptr);
      },
      2e-4);
  expect_gradient(
      b, grads[1],
      [&](const Tensor& t) {
        const std::vector<const Tensor*> v{&a, &t};
        return batchnorm_matching_loss(v, targets, nullptr);
      },
      2e-4);
}

TEST(BatchNormMatching, ZeroWhenTheBatchHasTheTargetStatistics) {
  Tensor x = Tensor::zeros({2, 1, 2});
  x.f = {1.0f, 3.0f, 1.0f, 3.0f};  // mean 2, variance 1
  std::vector<BatchNormTarget> t(1);
  t[0].mean = {2.0f};
  t[0].std = {std::sqrt(1.0f + 1e-5f)};
  const std::vector<const Tensor*> v{&x};
  EXPECT_NEAR(batchnorm_matching_loss(v, t, nullptr), 0.0, 1e-12);
}

TEST(SyntheticSpec, ParsesCountsAndSeedAndRejectsTheRest) {
  auto s = parse_synthetic_spec("synthetic:10x26");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->classes, 10);
  EXPECT_EQ(s->per_class, 26);
  EXPECT_EQ(s->seed, 0u);
  auto seeded = parse_synthetic_spec("synthetic:3x4:17");
  ASSERT_TRUE(seeded.ok());
  EXPECT_EQ(seeded->seed, 17u);
  for (const char* bad : {"synthetic:10", "synthetic:0x5", "synthetic:10x0", "synthetic:10x-1",
                          "synthetic:x5", "synthetic:10x5:", "synthetic:10x5:a", "synthetic:"})
    EXPECT_FALSE(parse_synthetic_spec(bad).ok()) << bad;
}

TEST(InputSynthesis, TheBundledCnnAssignsTheTargetLabels) {
  const Network net = test::prepared(test::bundled_model("cnn"));
  SynthesisSettings s;
  s.classes = 10;
  s.per_class = 1;
  s.iterations = 30;
  s.batch = 8;  // two batches, the second padded
  auto set = synthesize_inputs(net, s, {});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->inputs.shape, (Shape{10, 1, 28, 28}));
  for (std::int64_t k = 0; k < 10; ++k) EXPECT_EQ(set->labels[static_cast<std::size_t>(k)], k);
  EXPECT_GE(set->on_target, 9);
  EXPECT_GT(set->mean_target_probability, 0.5);
  // The same seed gives the same set; another seed another.
  auto again = synthesize_inputs(net, s, {});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->inputs.f == set->inputs.f);
  s.seed = 1;
  auto other = synthesize_inputs(net, s, {});
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->inputs.f == set->inputs.f);
}

TEST(InputSynthesis, RefusesWhatItCannotSynthesizeFor) {
  const Network net = test::prepared(test::bundled_model("cnn"));
  SynthesisSettings s;
  s.classes = 11;
  auto st = check_synthesis(net, s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("beyond the model's 10 classes"), std::string::npos);
  s.classes = 10;
  s.per_class = 0;
  EXPECT_FALSE(check_synthesis(net, s).ok());
}

TEST(BatchNormTargets, TheBundledCnnKeepsItsStatisticsAndResnetHasNone) {
  auto cnn = load_onnx(test::bundled_model("cnn"));
  ASSERT_TRUE(cnn.ok());
  const std::size_t outputs = cnn->outputs.size();
  auto t = expose_batchnorm_inputs(*cnn);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->size(), 3u);
  EXPECT_EQ(cnn->outputs.size(), outputs + 3);
  for (const auto& target : *t) {
    EXPECT_EQ(target.mean.size(), target.std.size());
    for (const float sd : target.std) EXPECT_GT(sd, 0.0f);
  }
  auto resnet = load_onnx(test::bundled_model("resnet"));
  ASSERT_TRUE(resnet.ok());
  auto none = expose_batchnorm_inputs(*resnet);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no BatchNormalization"), std::string::npos);
}

}  // namespace
}  // namespace mpq
