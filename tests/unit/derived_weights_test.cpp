// The engine keeps the weights its conv kernels derive from constants (repacked panels, Winograd
// transforms) across runs. Whatever sequence of set_constant / reset_constants calls and batch
// sizes comes, every run must equal a fresh engine's run on the same constants, bit for bit.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "graph/onnx_import.hpp"
#include "onnx_builder.hpp"
#include "prepared_network.hpp"
#include "sim/engine.hpp"
#include "sim/prepare.hpp"

namespace mpq {
namespace {

using test::prepared;

std::vector<Tensor> inputs(const Network& net, std::int64_t batch) {
  auto in = make_example_inputs(net.model, batch);
  EXPECT_TRUE(in.ok());
  for (auto& t : *in) {
    const auto r = test::random_values(t.f.size(), 7, -1.0f, 1.0f);
    t.f.assign(r.begin(), r.end());
  }
  return std::move(in).value();
}

// Every Conv weight of the model, scaled by `factor` (a different set of values per factor).
using Weights = std::map<std::string, Tensor>;
Weights scaled_conv_weights(const Network& net, float factor) {
  Weights w;
  for (std::size_t k : net.order) {
    const OpNode& n = net.node(k);
    if (n.op_type != "Conv") continue;
    Tensor t = net.model.initializers.at(n.inputs[1]);
    for (float& v : t.f) v *= factor;
    w[n.inputs[1]] = std::move(t);
  }
  return w;
}

void attach(Engine& e, const Weights* w, bool values_fixed = false) {
  e.reset_constants();
  if (!w) return;
  for (const auto& [name, t] : *w) ASSERT_TRUE(e.set_constant(name, &t, values_fixed).ok());
}

FloatBuffer run(Engine& e, const std::vector<Tensor>& in) {
  auto out = e.run(in);
  EXPECT_TRUE(out.ok()) << out.error().message;
  return out.ok() ? out->at(0).f : FloatBuffer{};
}

// What an engine that never ran before gives with constants `w`.
FloatBuffer fresh(const Network& net, const Weights* w, const std::vector<Tensor>& in) {
  auto e = Engine::create(net);
  EXPECT_TRUE(e.ok());
  attach(*e, w);
  return run(*e, in);
}

TEST(DerivedWeights, SwitchingConstantsAndBatchesMatchesFreshEngines) {
  for (const char* model : {"cnn", "resnet", "mobilenet"}) {
    SCOPED_TRACE(model);
    const Network net = prepared(test::bundled_model(model));
    Weights a = scaled_conv_weights(net, 0.5f), b = scaled_conv_weights(net, -1.25f);
    // Batch 32 and 1 take different conv paths (and derived layouts) for some layers.
    const std::vector<Tensor> big = inputs(net, 32), small = inputs(net, 1);
    auto e = Engine::create(net);
    ASSERT_TRUE(e.ok());
    const struct {
      const Weights* w;
      const std::vector<Tensor>* in;
    } sequence[] = {{nullptr, &big}, {&a, &big}, {&b, &small}, {&a, &small},
                    {nullptr, &big}, {&b, &big}, {&a, &big}};
    for (const auto& s : sequence) {
      attach(*e, s.w);
      const auto got = run(*e, *s.in);
      ASSERT_EQ(got, fresh(net, s.w, *s.in));
    }
    // Weights promised fixed (as a sweep's task constants) keep what was derived from them
    // while the engine switches between them.
    for (const auto& s : sequence) {
      attach(*e, s.w, /*values_fixed=*/true);
      ASSERT_EQ(run(*e, *s.in), fresh(net, s.w, *s.in));
    }
    // New values in a tensor already set: setting it again must drop what was derived from it.
    for (auto& [name, t] : a)
      for (float& v : t.f) v *= -3.0f;
    attach(*e, &a);
    EXPECT_EQ(run(*e, big), fresh(net, &a, big));
  }
}

}  // namespace
}  // namespace mpq
