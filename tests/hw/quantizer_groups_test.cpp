// Quantizer groups on the bundled models: the residual rule, every bundled model on every bundled
// accelerator, and the op classes graph/ and hw/ agree on.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "graph/onnx_import.hpp"
#include "graph/op_class.hpp"
#include "graph/quantizer_groups.hpp"
#include "hw/accelerator_loader.hpp"
#include "hw/op_class_names.hpp"
#include "search/priced_network.hpp"
#include "sim/prepare.hpp"
#include "tests/unit/prepared_network.hpp"

namespace mpq {
namespace {

Network load_model(const std::string& name) {
  return test::prepared(test::bundled_model(name));
}

// The groups of the activation quantizers feeding the first residual Add.
std::pair<std::size_t, std::size_t> add_input_groups(const Network& net,
                                                     const QuantizerPlacement& p,
                                                     const QuantizerGroups& g) {
  for (std::size_t k : net.order) {
    if (net.node(k).op_type != "Add") continue;
    const Quantizer* a = p.input_quantizer(net, k, 0);
    const Quantizer* b = p.input_quantizer(net, k, 1);
    EXPECT_TRUE(a && b);
    if (!a || !b) break;
    return {g.group_of[static_cast<std::size_t>(a - p.quantizers.data())],
            g.group_of[static_cast<std::size_t>(b - p.quantizers.data())]};
  }
  ADD_FAILURE() << "no Add in the model";
  return {0, 0};
}

TEST(QuantizerGroups, ResidualAddInputsShareAGroupOnlyWithTheRule) {
  const Network net = load_model("resnet");
  const QuantizerPlacement p = place_quantizers(net);
  const QuantizerGroups off = build_quantizer_groups(net, p, GroupingRules{});
  const auto [a_off, b_off] = add_input_groups(net, p, off);
  EXPECT_NE(a_off, b_off);
  const QuantizerGroups on = build_quantizer_groups(net, p, GroupingRules{{"Add"}});
  const auto [a_on, b_on] = add_input_groups(net, p, on);
  EXPECT_EQ(a_on, b_on);
  // resnet has 3 residual Adds; each merges two groups into one.
  EXPECT_EQ(off.groups.size() - on.groups.size(), 3u);
}

TEST(QuantizerGroups, BasicGroupIsAnActivationWithItsConsumersWeights) {
  const Network net = load_model("cnn");
  const QuantizerPlacement p = place_quantizers(net);
  const QuantizerGroups g = build_quantizer_groups(net, p, GroupingRules{});
  // Every weight sits in the group of the activation its op consumes.
  std::int64_t macs = 0, weights = 0;
  for (std::size_t q = 0; q < p.quantizers.size(); ++q) {
    const Quantizer& w = p.quantizers[q];
    if (w.kind != QuantizerKind::Weight) continue;
    const Quantizer* x = p.input_quantizer(net, w.node, 0);
    ASSERT_NE(x, nullptr);
    EXPECT_EQ(g.group_of[q], g.group_of[static_cast<std::size_t>(x - p.quantizers.data())])
        << w.name;
    weights += static_cast<std::int64_t>(net.model.initializers.at(w.name).size());
  }
  std::int64_t params = 0;
  for (const auto& grp : g.groups) macs += grp.macs, params += grp.params;
  std::int64_t net_macs = 0;
  for (const auto& s : net.stats) net_macs += s.macs;
  EXPECT_EQ(macs, net_macs);  // every MAC is run at exactly one group's precision
  EXPECT_EQ(params, weights);
  EXPECT_TRUE(g.groups.front().model_input);
  EXPECT_TRUE(
      std::any_of(g.groups.begin(), g.groups.end(), [](const auto& x) { return x.model_output; }));
}

TEST(QuantizerGroups, EveryBundledModelOnEveryBundledAccelerator) {
  for (const char* model : {"cnn", "mobilenet", "resnet", "vit"}) {
    const Network net = load_model(model);
    for (const auto& e : std::filesystem::directory_iterator(MPQ_SOURCE_DIR "/configs/hw")) {
      if (e.path().extension() != ".yaml") continue;
      auto acc = hw::load_accelerator(e.path().string(), fusion_op_kind);
      ASSERT_TRUE(acc.ok()) << acc.error().message;
      const QuantizerPlacement placement = place_quantizers(net, placement_rules_of(*acc));
      auto priced = price_network(net, placement, *acc);
      ASSERT_TRUE(priced.ok()) << model << " on " << acc->name << ": " << priced.error().message;
      EXPECT_FALSE(priced->groups.groups.empty());
      EXPECT_EQ(priced->table.unsupported(priced->baseline), "") << model << " on " << acc->name;
      const CostMetrics total = priced->table.total(priced->baseline);
      EXPECT_GT(total.latency_s, 0) << model << " on " << acc->name;
      EXPECT_GT(total.energy_j, 0);
    }
  }
}

TEST(QuantizerGroups, EmptyIntersectionNamesTheOpsAndWhatEachSupports) {
  // Add pinned to W8A16 (int16 activations) while convs run int8 activations only: the group of
  // a residual Add's inputs also feeds a Conv, so no candidate suits both.
  auto acc = hw::parse_accelerator(R"(name: pinned
clock_mhz: 1000
latency_model: roofline
candidates:
  W8A8: {weights: int8, activations: int8}
  W8A16: {weights: int8, activations: int16}
op_classes:
  conv:
    candidates: [W8A8]
  default:
    macs_per_cycle: {W8A8: 100, W8A16: 50}
pinned_ops: {Add: W8A16}
energy_pj_per_mac: {W8A8: 1, W8A16: 2}
memory:
  - {name: dram, bandwidth_gb_per_s: 1, energy_pj_per_byte: 1}
)",
                                   "pinned.yaml", fusion_op_kind);
  ASSERT_TRUE(acc.ok()) << acc.error().message;
  const Network resnet = load_model("resnet");
  auto priced = price_network(resnet, place_quantizers(resnet, placement_rules_of(*acc)), *acc);
  ASSERT_FALSE(priced.ok());
  const std::string& msg = priced.error().message;
  EXPECT_NE(
      msg.find("quantizer group '/stem/stem.2/Relu_output_0': no candidate all its ops support"),
      std::string::npos)
      << msg;
  EXPECT_NE(msg.find("Conv '/layer1/conv1/Conv' (conv): W8A8"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Add '/layer1/Add' (elementwise, pinned): W8A16"), std::string::npos) << msg;
}

TEST(OpClass, GraphAndHardwareNamesAgree) {
  const auto& graph_names = op_class_names();
  ASSERT_EQ(graph_names.size(), hw::kOpClassNames.size());
  for (std::size_t k = 0; k < graph_names.size(); ++k)
    EXPECT_EQ(graph_names[k], hw::kOpClassNames[k]);
}

TEST(OpClass, BundledModelOps) {
  const Network mobilenet = load_model("mobilenet");
  int depthwise = 0;
  for (std::size_t k : mobilenet.order)
    depthwise += classify_op(mobilenet, k) == OpClass::DepthwiseConv;
  EXPECT_GT(depthwise, 0);
  const Network vit = load_model("vit");
  int matmul = 0, gemm = 0;
  for (std::size_t k : vit.order) {
    matmul += classify_op(vit, k) == OpClass::MatMul;
    gemm += classify_op(vit, k) == OpClass::Gemm;
  }
  EXPECT_GT(matmul, 0);  // attention: activation x activation
  EXPECT_GT(gemm, 0);    // projections with constant weights
}

}  // namespace
}  // namespace mpq
