// The engine folds the Transposes that split and merge attention heads into the MatMuls next to
// them (the MatMul reads or writes through the perm), and a Mul by a scalar into the MatMul
// before it. Folding must not change a single bit, must step aside for a graph output or a
// hooked value, must keep reruns from any step correct, and must record the skipped values'
// shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine_runs.hpp"
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

constexpr std::int64_t kT = 7, kH = 3, kD = 5;  // tokens, heads, head width: no multiple of 16

// Self-attention as exporters write it: q, k, v projections, Reshape to [N, T, H, D], Transposes
// to [N, H, T, D] (q, v) and [N, H, D, T] (k), scores scaled by a Mul, Softmax, the weighted sum,
// a Transpose back and a Reshape to [N, T, H * D]. q's Transpose is also a graph output (it
// must not fold). Two more MatMuls read the merged heads through Transposes, one foldable.
Network attention_net() {
  OnnxBuilder b(13);
  const std::int64_t C = kH * kD;
  b.input("x", {-1, kT, C});
  b.output("y", {-1, kT, kT});
  b.output("qt", {-1, kH, kT, kD});
  b.output("u", {kH * kD, -1, kT});
  *b.g->add_initializer() = OnnxBuilder::int_tensor("heads", {4}, {0, 0, kH, kD});
  *b.g->add_initializer() = OnnxBuilder::int_tensor("merged", {3}, {0, 0, C});
  unsigned seed = 1;
  for (const char* p : {"q", "k", "v"}) {
    const std::string s = p;
    b.initializer("w" + s, {C, C}, random_values(static_cast<std::size_t>(C * C), seed++));
    b.initializer("b" + s, {C}, random_values(static_cast<std::size_t>(C), seed++));
    b.node("MatMul", {"x", "w" + s}, {s + "m"});
    b.node("Add", {s + "m", "b" + s}, {s + "a"});
    b.node("Reshape", {s + "a", "heads"}, {s + "r"});
  }
  OnnxBuilder::attr_ints(b.node("Transpose", {"qr"}, {"qt"}), "perm", {0, 2, 1, 3});
  OnnxBuilder::attr_ints(b.node("Transpose", {"kr"}, {"kt"}), "perm", {0, 2, 3, 1});
  OnnxBuilder::attr_ints(b.node("Transpose", {"vr"}, {"vt"}), "perm", {0, -2, 1, -1});
  b.node("MatMul", {"qt", "kt"}, {"s"});
  b.initializer("scale", {}, {0.3f});  // not a power of two: the product's rounding shows
  b.node("Mul", {"scale", "s"}, {"ss"});
  OnnxBuilder::attr_int(b.node("Softmax", {"ss"}, {"p"}), "axis", -1);
  b.node("MatMul", {"p", "vt"}, {"o"});
  OnnxBuilder::attr_ints(b.node("Transpose", {"o"}, {"ot"}), "perm", {0, 2, 1, 3});
  b.node("Reshape", {"ot", "merged"}, {"z"});
  // z z^T: B is a Transpose that swaps the last two axes (folded, read column by column).
  OnnxBuilder::attr_ints(b.node("Transpose", {"z"}, {"zr"}), "perm", {0, 2, 1});
  b.node("MatMul", {"z", "zr"}, {"y"});
  // [C, N, T] x [T, T]: the last axis moves first, no fold.
  OnnxBuilder::attr_ints(b.node("Transpose", {"z"}, {"zp"}), "perm", {2, 0, 1});
  b.initializer("wu", {kT, kT}, random_values(static_cast<std::size_t>(kT * kT), seed++));
  b.node("MatMul", {"zp", "wu"}, {"u"});
  return prepared(b.save("attention.onnx"));
}

std::vector<Tensor> inputs(const Network& net, std::int64_t batch) {
  auto in = make_example_inputs(net.model, batch);
  EXPECT_TRUE(in.ok());
  const auto r = random_values(in->at(0).f.size(), 17, -2.0f, 2.0f);
  in->at(0).f.assign(r.begin(), r.end());
  return std::move(in).value();
}

// Names of the steps a profiled run spent no time in (folded into another step).
std::vector<std::string> skipped_steps(Engine& e, const std::vector<Tensor>& in) {
  std::vector<double> seconds;
  e.set_profile(&seconds);
  EXPECT_TRUE(e.run(in).ok());
  e.set_profile(nullptr);
  std::vector<std::string> names;
  for (std::size_t i = 0; i < seconds.size(); ++i)
    if (seconds[i] == 0.0) names.push_back(e.step_node(i).outputs[0]);
  std::sort(names.begin(), names.end());
  return names;
}

TEST(TransposeFold, FoldedRunsAreBitIdenticalToStepByStep) {
  const Network net = attention_net();
  for (std::int64_t batch : {1, 4}) {
    const auto in = inputs(net, batch);
    const auto folded = run(net, in, true);
    expect_identical(folded, run(net, in, false), "batch " + std::to_string(batch));
    ASSERT_EQ(folded[0].shape, (Shape{batch, kT, kT}));
  }
}

TEST(TransposeFold, SkipsTheHeadTransposesAndTheScaleButNotAGraphOutput) {
  const Network net = attention_net();
  auto e = Engine::create(net);
  ASSERT_TRUE(e.ok());
  // Folded: k's and v's Transposes into the scores / weighted sum, the merge Transpose into the
  // weighted sum, the Mul into the scores; the bias Adds into their MatMuls (an older fold).
  // z's Transpose into z z^T. Not folded: q's Transpose (a graph output) and zp (the last axis
  // moves first).
  const std::vector<std::string> want = {"ka", "kt", "ot", "qa", "ss", "va", "vt", "zr"};
  EXPECT_EQ(skipped_steps(*e, inputs(net, 2)), want);
}

TEST(TransposeFold, AHookOnATransposedValueSeesItAndStopsItsFold) {
  const Network net = attention_net();
  const auto in = inputs(net, 3);
  const auto expected = run(net, in, false);
  auto e = Engine::create(net);
  ASSERT_TRUE(e.ok());
  Shape seen_k, seen_o;
  ASSERT_TRUE(e->set_hook("kt", [&](Tensor& t) { seen_k = t.shape; }).ok());
  ASSERT_TRUE(e->set_hook("o", [&](Tensor& t) { seen_o = t.shape; }).ok());
  auto out = e->run(in);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(seen_k, (Shape{3, kH, kD, kT}));
  EXPECT_EQ(seen_o, (Shape{3, kH, kT, kD}));
  expect_identical(*out, expected, "with hooks on kt and o");
  const std::vector<std::string> want = {"ka", "qa", "ss", "va", "vt", "zr"};
  EXPECT_EQ(skipped_steps(*e, in), want);
}

TEST(TransposeFold, RerunsFromEveryStepSeeTheSkippedValues) {
  const Network net = attention_net();
  const auto in = inputs(net, 2);
  const auto expected = run(net, in, false);
  auto e = Engine::create(net);
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(e->run(in).ok());
  for (std::size_t k = 0; k < e->num_steps(); ++k) {
    ASSERT_TRUE(e->run_steps(k, e->num_steps()).ok());
    expect_identical(e->outputs(), expected, "rerun from step " + std::to_string(k));
  }
}

TEST(TransposeFold, ShapeInferenceRecordsTheSkippedValues) {
  const Network net = attention_net();
  auto e = Engine::create(net);
  ASSERT_TRUE(e.ok());
  ASSERT_TRUE(e->run(inputs(net, 4)).ok());
  Network shaped = net;
  e->record_shapes(shaped);
  EXPECT_EQ(shaped.shapes.at("kt"), (Shape{4, kH, kD, kT}));
  EXPECT_EQ(shaped.shapes.at("vt"), (Shape{4, kH, kT, kD}));
  EXPECT_EQ(shaped.shapes.at("o"), (Shape{4, kH, kT, kD}));
  EXPECT_EQ(shaped.shapes.at("ot"), (Shape{4, kT, kH, kD}));
  EXPECT_EQ(shaped.shapes.at("s"), (Shape{4, kH, kT, kT}));
}

}  // namespace
}  // namespace mpq
