// The engine folds a Relu/Clip into the Conv/ConvTranspose that feeds it (and a residual Add,
// with its Relu, into a Conv), among other folds. Folding must not
// change a single bit, must step aside when someone watches the Conv's own output, and must
// keep prefix reruns (run_steps from a later step) correct.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <span>

#include "engine_runs.hpp"
#include "graph/onnx_import.hpp"
#include "onnx_builder.hpp"
#include "prepared_network.hpp"
#include "sim/engine.hpp"
#include "sim/prepare.hpp"

namespace mpq {
namespace {

using test::expect_identical;
using test::OnnxBuilder;
using test::prepared;
using test::random_values;
using test::run;

std::vector<Tensor> random_inputs(const Network& net, std::int64_t batch, unsigned seed) {
  auto in = make_example_inputs(net.model, batch);
  EXPECT_TRUE(in.ok());
  for (auto& t : *in) {
    const auto r = random_values(t.f.size(), seed++, -2.0f, 2.0f);
    t.f.assign(r.begin(), r.end());
  }
  return std::move(in).value();
}

// Conv -> Clip (input bounds, opset 11), grouped ConvTranspose -> Relu, a depthwise Conv ->
// Clip whose output is also a graph output (must not fold), and a 1x1 Conv -> Relu.
Network fusion_net() {
  OnnxBuilder b(11);
  b.input("x", {-1, 4, 9, 9});
  b.output("y", {-1, 6, 14, 14});
  b.output("d", {-1, 6, 14, 14});
  b.initializer("w1", {6, 4, 3, 3}, random_values(216, 1));
  b.initializer("b1", {6}, random_values(6, 2));
  b.node("Conv", {"x", "w1", "b1"}, {"c1"});
  b.initializer("lo", {}, {-0.25f});
  b.initializer("hi", {}, {0.5f});
  b.node("Clip", {"c1", "lo", "hi"}, {"a1"});
  b.initializer("w2", {6, 3, 2, 2}, random_values(72, 3));
  auto* ct = b.node("ConvTranspose", {"a1", "w2"}, {"c2"});
  OnnxBuilder::attr_int(ct, "group", 2);
  OnnxBuilder::attr_ints(ct, "strides", {2, 2});
  b.node("Relu", {"c2"}, {"a2"});
  b.initializer("w3", {6, 1, 3, 3}, random_values(54, 4));
  auto* dw = b.node("Conv", {"a2", "w3"}, {"d"});
  OnnxBuilder::attr_int(dw, "group", 6);
  OnnxBuilder::attr_ints(dw, "pads", {1, 1, 1, 1});
  b.node("Clip", {"d", "lo"}, {"a3"});
  b.initializer("w4", {6, 6, 1, 1}, random_values(36, 5));
  b.node("Conv", {"a3", "w4"}, {"c4"});
  b.node("Relu", {"c4"}, {"y"});
  return prepared(b.save("fusion.onnx"));
}

TEST(Fusion, FoldedRunsAreBitIdenticalToStepByStep) {
  const Network net = fusion_net();
  for (std::int64_t batch : {1, 3}) {
    const auto in = random_inputs(net, batch, 7);
    expect_identical(run(net, in, true), run(net, in, false), "batch " + std::to_string(batch));
  }
}

TEST(Fusion, BundledModelsAreBitIdenticalToStepByStep) {
  for (const char* model : {"cnn", "mobilenet", "resnet", "vit"}) {
    const Network net = prepared(test::bundled_model(model));
    const auto in = random_inputs(net, 8, 11);
    expect_identical(run(net, in, true), run(net, in, false), model);
  }
}

TEST(Fusion, AHookOnTheConvOutputSeesTheValuesBeforeTheClamp) {
  const Network net = fusion_net();
  const auto in = random_inputs(net, 2, 3);
  auto e = Engine::create(net);
  ASSERT_TRUE(e.ok());
  float lowest = 0.0f, highest = 0.0f;
  ASSERT_TRUE(e->set_hook("c1", [&](Tensor& t) {
                 for (float v : t.f) lowest = std::min(lowest, v), highest = std::max(highest, v);
               }).ok());
  auto out = e->run(in);
  ASSERT_TRUE(out.ok()) << out.error().message;
  // The Clip bounds are [-0.25, 0.5]; the raw conv output goes well beyond both.
  EXPECT_LT(lowest, -0.25f);
  EXPECT_GT(highest, 0.5f);
  expect_identical(*out, run(net, in, false), "with a hook on c1");
}

TEST(Fusion, RerunFromBetweenAFoldedPairRecomputesTheConvOutput) {
  const Network net = fusion_net();
  const auto in = random_inputs(net, 2, 5);
  const auto expected = run(net, in, false);
  auto e = Engine::create(net);
  ASSERT_TRUE(e.ok());
  // Every step that reads a Conv output: a rerun from there must still see that output.
  for (const std::string conv_out : {"c1", "c2", "c4"}) {
    const std::size_t k = e->first_reader_step(conv_out);
    ASSERT_LT(k, e->num_steps()) << conv_out;
    ASSERT_TRUE(e->run(in).ok());  // folds every pair, leaving the Conv outputs unwritten
    ASSERT_TRUE(e->set_inputs(in).ok());
    ASSERT_TRUE(e->run_steps(k, e->num_steps()).ok());
    expect_identical(e->outputs(), expected, "rerun from the reader of " + conv_out);
    // A prefix that stops at the reader, then the rest.
    ASSERT_TRUE(e->set_inputs(in).ok());
    ASSERT_TRUE(e->run_steps(0, k).ok());
    ASSERT_TRUE(e->run_steps(k, e->num_steps()).ok());
    expect_identical(e->outputs(), expected, "prefix up to the reader of " + conv_out);
  }
}

// A chain of view ops, each the sole reader of the one before (storage handed down the
// chain), next to a Reshape whose input has a second reader (must be copied).
Network view_net() {
  OnnxBuilder b(13);
  b.input("x", {-1, 4, 6, 6});
  b.output("y", {-1, 144});
  b.output("z", {-1, 144});
  b.initializer("c", {1}, {1.5f});
  b.node("Mul", {"x", "c"}, {"m"});
  *b.g->add_initializer() = OnnxBuilder::int_tensor("s1", {3}, {0, 4, 36});
  b.node("Reshape", {"m", "s1"}, {"r"});
  *b.g->add_initializer() = OnnxBuilder::int_tensor("ax", {1}, {1});
  b.node("Unsqueeze", {"r", "ax"}, {"u"});
  auto* fl = b.node("Flatten", {"u"}, {"f"});
  OnnxBuilder::attr_int(fl, "axis", 1);
  b.node("Identity", {"f"}, {"i"});
  b.initializer("bias", {144}, random_values(144, 9));
  b.node("Add", {"i", "bias"}, {"y"});
  // m has two readers: this Reshape must copy it.
  *b.g->add_initializer() = OnnxBuilder::int_tensor("s2", {2}, {0, 144});
  b.node("Reshape", {"m", "s2"}, {"r2"});
  b.node("Sub", {"r2", "bias"}, {"z"});
  return prepared(b.save("views.onnx"));
}

TEST(Fusion, ViewOpsTakingTheirInputsStorageChangeNothing) {
  const Network net = view_net();
  const auto in = random_inputs(net, 3, 2);
  const auto expected = run(net, in, false);
  auto e = Engine::create(net);
  ASSERT_TRUE(e.ok());
  for (int k = 0; k < 3; ++k) {  // storage moves around between runs: still the same results
    auto out = e->run(in);
    ASSERT_TRUE(out.ok()) << out.error().message;
    expect_identical(*out, expected, "run " + std::to_string(k));
  }
  // Rerunning from each view op recomputes the chain of values it took storage from. A fresh
  // engine each time: after its first run, the storage a view op took was replaced by empty.
  for (const std::string t : {"m", "r", "u", "f", "i"}) {
    auto fresh = Engine::create(net);
    ASSERT_TRUE(fresh.ok());
    const std::size_t k = fresh->first_reader_step(t);
    ASSERT_LT(k, fresh->num_steps()) << t;
    ASSERT_TRUE(fresh->run(in).ok());
    ASSERT_TRUE(fresh->set_inputs(in).ok());
    const auto st = fresh->run_steps(k, fresh->num_steps());
    ASSERT_TRUE(st.ok()) << st.error().message;
    expect_identical(fresh->outputs(), expected, "rerun from the reader of " + t);
  }
}

// Per-tensor fake quantizers are elementwise hooks: the GELU chain and the MatMul + bias fold
// apply them inside the fold, with the same result as running every op on its own. The ViT as
// exported (no canonicalization, which would make each GELU chain one Gelu op): the engine still
// folds the chain wherever the pass leaves it, e.g. when an intermediate is read elsewhere.
TEST(Fusion, ElementwiseHooksAreAppliedInsideFolds) {
  PrepareOptions as_exported;
  as_exported.canonicalize = false;
  const Network net = prepared(test::bundled_model("vit"), as_exported);
  const auto in = random_inputs(net, 4, 21);
  const auto grid = [](std::span<float> v) {
    for (float& x : v) x = std::nearbyint(x * 16.0f) / 16.0f;
  };
  std::vector<std::vector<Tensor>> results;
  std::vector<double> seconds;
  std::size_t erf_step = 0, bias_add_step = 0;
  for (const bool fusion : {true, false}) {
    auto e = Engine::create(net);
    ASSERT_TRUE(e.ok());
    e->set_fusion(fusion);
    for (std::size_t i = 0; i < e->num_steps(); ++i) {
      const OpNode& n = e->step_node(i);
      if (n.op_type == "Erf") erf_step = i;
      // A bias Add: a MatMul's output plus a constant.
      if (n.op_type == "Add" && n.inputs.size() == 2 && i > 0 &&
          e->step_node(i - 1).op_type == "MatMul") {
        const std::string& mm = e->step_node(i - 1).outputs[0];
        if ((n.inputs[0] == mm && net.model.is_constant(n.inputs[1])) ||
            (n.inputs[1] == mm && net.model.is_constant(n.inputs[0])))
          bias_add_step = i;
      }
      for (const auto& o : n.outputs)
        if (!o.empty()) {
          ASSERT_TRUE(e->set_elementwise_hook(o, grid).ok()) << o;
        }
    }
    if (fusion) e->set_profile(&seconds);
    auto out = e->run(in);
    ASSERT_TRUE(out.ok()) << out.error().message;
    results.push_back(std::move(out).value());
  }
  expect_identical(results[0], results[1], "vit with elementwise hooks on every value");
  // The folds did happen: the folded steps never ran on their own.
  ASSERT_GT(erf_step, 0u);
  ASSERT_GT(bias_add_step, 0u);
  EXPECT_EQ(seconds[erf_step], 0.0);
  EXPECT_EQ(seconds[bias_add_step], 0.0);
}

// ResNet's residual blocks: Conv -> Add(shortcut) -> Relu runs as one Conv call.
TEST(Fusion, ResidualAddsAndTheirReluFoldIntoTheConv) {
  const Network net = prepared(test::bundled_model("resnet"));
  const auto in = random_inputs(net, 3, 17);
  const auto expected = run(net, in, false);
  auto e = Engine::create(net);
  ASSERT_TRUE(e.ok());
  std::vector<std::size_t> adds;
  for (std::size_t i = 1; i < e->num_steps(); ++i)
    if (e->step_node(i).op_type == "Add" && e->step_node(i - 1).op_type == "Conv")
      adds.push_back(i);
  ASSERT_EQ(adds.size(), 3u);
  std::vector<double> seconds;
  e->set_profile(&seconds);
  auto out = e->run(in);
  ASSERT_TRUE(out.ok()) << out.error().message;
  expect_identical(*out, expected, "resnet with folded residual Adds");
  for (std::size_t a : adds) {
    EXPECT_EQ(e->step_node(a + 1).op_type, "Relu");
    EXPECT_EQ(seconds[a], 0.0) << e->step_node(a).name;
    EXPECT_EQ(seconds[a + 1], 0.0) << e->step_node(a + 1).name;
    EXPECT_GT(seconds[a - 1], 0.0);
  }
  e->set_profile(nullptr);
  // Reruns from the Add and from its Relu recompute what the fold left unwritten.
  for (std::size_t a : adds)
    for (std::size_t k : {a, a + 1}) {
      ASSERT_TRUE(e->run(in).ok());
      ASSERT_TRUE(e->set_inputs(in).ok());
      ASSERT_TRUE(e->run_steps(k, e->num_steps()).ok());
      expect_identical(e->outputs(), expected, "rerun from step " + std::to_string(k));
    }
  // A hook on the Conv's own output sees it and stops the fold; one on the Add's output stops
  // only the Relu's.
  for (const std::size_t watched : {adds[0] - 1, adds[0]}) {
    auto h = Engine::create(net);
    ASSERT_TRUE(h.ok());
    std::size_t seen = 0;
    ASSERT_TRUE(
        h->set_hook(h->step_node(watched).outputs[0], [&](Tensor& t) { seen = t.f.size(); }).ok());
    auto r = h->run(in);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(seen, static_cast<std::size_t>(3 * 16 * 28 * 28));
    expect_identical(*r, expected, "with a hook on " + h->step_node(watched).outputs[0]);
  }
  // Shape inference records the values the folds skip.
  for (std::size_t a : adds) {
    const std::string& conv_out = e->step_node(a - 1).outputs[0];
    ASSERT_TRUE(net.shapes.count(conv_out)) << conv_out;
    EXPECT_EQ(net.shapes.at(conv_out), net.shapes.at(e->step_node(a).outputs[0]));
  }
}

TEST(Fusion, ShapeInferenceRecordsTheFoldedConvOutputs) {
  const Network net = fusion_net();
  for (const char* t : {"c1", "c2", "c4"}) {
    ASSERT_TRUE(net.shapes.count(t)) << t;
    EXPECT_EQ(net.shapes.at(t).size(), 4u) << t;
  }
  EXPECT_EQ(net.shapes.at("c2"), (Shape{1, 6, 14, 14}));
}

}  // namespace
}  // namespace mpq

namespace mpq {
namespace {

// The cnn's three Conv -> Relu -> MaxPool (2x2, stride 2) chains fold into the Convs, which
// write the pooled values (Winograd for two of them, the whole output then a pool for the
// first; 7x7 -> 3x3 drops the odd row and column).
TEST(Fusion, MaxPoolsAfterAConvAndItsReluFoldIntoTheConv) {
  const Network net = prepared(test::bundled_model("cnn"));
  const auto in = random_inputs(net, 5, 23);
  const auto expected = run(net, in, false);
  auto e = Engine::create(net);
  ASSERT_TRUE(e.ok());
  std::vector<std::size_t> pools;
  for (std::size_t i = 2; i < e->num_steps(); ++i)
    if (e->step_node(i).op_type == "MaxPool" && e->step_node(i - 2).op_type == "Conv")
      pools.push_back(i);
  ASSERT_EQ(pools.size(), 3u);
  std::vector<double> seconds;
  e->set_profile(&seconds);
  auto out = e->run(in);
  ASSERT_TRUE(out.ok()) << out.error().message;
  expect_identical(*out, expected, "cnn with folded MaxPools");
  for (std::size_t p : pools) {
    EXPECT_EQ(seconds[p], 0.0) << e->step_node(p).name;
    EXPECT_EQ(seconds[p - 1], 0.0) << e->step_node(p - 1).name;
    EXPECT_GT(seconds[p - 2], 0.0);
  }
  e->set_profile(nullptr);
  // Reruns from the MaxPool and from the Relu recompute the values the fold left unwritten
  // (the MaxPool first: nothing has written the Relu's output yet).
  for (std::size_t p : pools)
    for (std::size_t k : {p, p - 1}) {
      ASSERT_TRUE(e->run(in).ok());
      ASSERT_TRUE(e->set_inputs(in).ok());
      ASSERT_TRUE(e->run_steps(k, e->num_steps()).ok());
      expect_identical(e->outputs(), expected, "rerun from step " + std::to_string(k));
    }
  // A hook on the Relu's output sees the whole unpooled tensor and stops the pool fold.
  auto h = Engine::create(net);
  ASSERT_TRUE(h.ok());
  std::size_t seen = 0;
  ASSERT_TRUE(h->set_hook(h->step_node(pools[1] - 1).outputs[0], [&](Tensor& t) {
                 seen = t.f.size();
               }).ok());
  auto r = h->run(in);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(seen, static_cast<std::size_t>(5 * 64 * 14 * 14));
  expect_identical(*r, expected, "with a hook on the Relu");
  // Recorded shapes give the values the fold skips their own (unpooled) shapes at this batch.
  Network shaped = net;
  e->record_shapes(shaped);
  for (std::size_t p : pools)
    for (std::size_t k : {p - 2, p - 1}) {
      const std::string& name = e->step_node(k).outputs[0];
      Shape want = net.shapes.at(name);
      want[0] = 5;
      EXPECT_EQ(shaped.shapes.at(name), want) << name;
    }
}

}  // namespace
}  // namespace mpq
