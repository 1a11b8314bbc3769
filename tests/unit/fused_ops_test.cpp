// The kernels of mpq's own fused ops (sim/ops/: mpq::SiLU in elementwise_unary.cpp,
// mpq::RMSNormalization in normalization.cpp, mpq::GateMul in elementwise_binary.cpp) against
// their definitions, computed here in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "graph/canonicalize.hpp"
#include "onnx_builder.hpp"
#include "sim/op_registry.hpp"

namespace mpq {
namespace {

Tensor random_tensor(const Shape& s, unsigned seed, float lo = -5.0f, float hi = 5.0f) {
  Tensor t = Tensor::zeros(s);
  const auto v = test::random_values(static_cast<std::size_t>(t.size()), seed, lo, hi);
  std::copy(v.begin(), v.end(), t.f.begin());
  return t;
}

Tensor run_op(const OpNode& n, const std::vector<const Tensor*>& ins) {
  const OpSpec* spec = find_op(n.op_type);
  EXPECT_NE(spec, nullptr) << n.op_type;
  if (spec->validate) {
    EXPECT_FALSE(spec->validate(n, 17).has_value());
  }
  std::vector<Tensor> outs(1);
  spec->run(OpContext{n, 17}, ins, outs);
  return outs[0];
}

void expect_close(float got, double want) {
  EXPECT_NEAR(got, want, 2e-6 * (1.0 + std::abs(want)));
}

TEST(FusedOps, SiLUIsXTimesSigmoidX) {
  OpNode n{"silu", kSiLUOp, {"x"}, {"y"}, {}};
  const Tensor x = random_tensor({3, 70000}, 1, -20.0f, 20.0f);  // parallel chunks too
  const Tensor y = run_op(n, {&x});
  ASSERT_EQ(y.shape, x.shape);
  for (std::int64_t k = 0; k < x.size(); k += 7) {
    const double v = x.f[k];
    expect_close(y.f[k], v / (1.0 + std::exp(-v)));
  }
}

TEST(FusedOps, RMSNormalizationOverTrailingAxesWithAndWithoutScale) {
  const Tensor x = random_tensor({2, 3, 4, 5}, 2);
  const Tensor scale = random_tensor({4, 5}, 3, 0.5f, 1.5f);
  for (bool scaled : {false, true}) {
    OpNode n{"rms", kRMSNormOp, {"x"}, {"y"}, {{"axis", std::int64_t{2}}, {"epsilon", 1e-3f}}};
    std::vector<const Tensor*> ins = {&x};
    if (scaled) {
      n.inputs.push_back("s");
      ins.push_back(&scale);
    }
    const Tensor y = run_op(n, ins);
    for (std::int64_t r = 0; r < 6; ++r) {
      double sq = 0;
      for (std::int64_t j = 0; j < 20; ++j)
        sq += static_cast<double>(x.f[r * 20 + j]) * x.f[r * 20 + j];
      const double inv = 1.0 / std::sqrt(sq / 20 + 1e-3);
      for (std::int64_t j = 0; j < 20; ++j)
        expect_close(y.f[r * 20 + j], x.f[r * 20 + j] * inv * (scaled ? scale.f[j] : 1.0));
    }
  }
}

TEST(FusedOps, GateMulBroadcastsTheGateAndRejectsUnknownGates) {
  const Tensor x = random_tensor({2, 3, 4, 4}, 4);
  const Tensor g = random_tensor({2, 3, 1, 1}, 5);
  for (bool hard : {false, true}) {
    OpNode n{"gate", kGateMulOp, {"x", "g"}, {"y"}, {}};
    n.attrs["gate"] = std::string(hard ? "HardSigmoid" : "Sigmoid");
    n.attrs["alpha"] = 1.0f / 6.0f;
    n.attrs["beta"] = 0.5f;
    const Tensor y = run_op(n, {&x, &g});
    ASSERT_EQ(y.shape, x.shape);
    for (std::int64_t e = 0; e < x.size(); ++e) {
      const double gv = g.f[e / 16];
      const double gate = hard ? std::clamp(gv / 6.0 + 0.5, 0.0, 1.0) : 1.0 / (1.0 + std::exp(-gv));
      expect_close(y.f[e], x.f[e] * gate);
    }
  }
  OpNode bad{"gate", kGateMulOp, {"x", "g"}, {"y"}, {{"gate", std::string("Tanh")}}};
  ASSERT_TRUE(find_op(kGateMulOp)->validate(bad, 17).has_value());
}

}  // namespace
}  // namespace mpq
