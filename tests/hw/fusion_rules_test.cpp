// Fusion rules of an accelerator: what the YAML loader accepts and refuses (file:line: key), and
// that quantizer placement, groups and pricing follow them.
#include <gtest/gtest.h>

#include <algorithm>

#include "graph/onnx_import.hpp"
#include "hw/accelerator_loader.hpp"
#include "hw/fusion_rules.hpp"
#include "search/priced_network.hpp"
#include "sim/op_registry.hpp"
#include "sim/prepare.hpp"
#include "test_accelerators.hpp"
#include "tests/unit/prepared_network.hpp"

namespace mpq {
namespace {

std::string with_fusion(const std::string& section) {
  return std::string(test::kRooflineYaml) + section;
}

std::string load_error(const std::string& yaml) {
  auto acc = hw::parse_accelerator(yaml, "acc.yaml", fusion_op_kind);
  EXPECT_FALSE(acc.ok()) << "loaded without error:\n" << yaml;
  return acc.ok() ? "" : acc.error().message;
}

Network load_model(const std::string& name) {
  return test::prepared(test::bundled_model(name));
}

std::size_t activations(const QuantizerPlacement& p) {
  return static_cast<std::size_t>(
      std::count_if(p.quantizers.begin(), p.quantizers.end(),
                    [](const Quantizer& q) { return q.kind == QuantizerKind::Activation; }));
}

TEST(FusionRules, LoadsSequencesAndInternalPrecision) {
  const auto acc = test::parse_or_die(
      with_fusion("fusion:\n  sequences:\n    - [Conv, Relu]\n    - [MatMul, Add]\n"
                  "  internal_precision: [Softmax]\n"));
  ASSERT_TRUE(acc.fusion.has_value());
  EXPECT_EQ(acc.fusion->sequences,
            (std::vector<std::vector<std::string>>{{"Conv", "Relu"}, {"MatMul", "Add"}}));
  EXPECT_EQ(acc.fusion->internal_precision, std::vector<std::string>{"Softmax"});
  EXPECT_FALSE(test::parse_or_die(test::kRooflineYaml).fusion.has_value());
}

TEST(FusionRules, BadRulesNameFileLineAndKey) {
  // The description has 17 lines; the fusion section starts on line 18.
  const auto unknown = load_error(with_fusion("fusion:\n  sequences:\n    - [Conv, Relux]\n"));
  EXPECT_NE(unknown.find("acc.yaml:20: fusion.sequences[0]: unknown op type 'Relux'"),
            std::string::npos)
      << unknown;
  const auto two_macs = load_error(with_fusion("fusion:\n  sequences:\n    - [Conv, MatMul]\n"));
  EXPECT_NE(two_macs.find("acc.yaml:20: fusion.sequences[0]: 'MatMul' multiplies by a weight"),
            std::string::npos)
      << two_macs;
  const auto movement =
      load_error(with_fusion("fusion:\n  sequences:\n    - [Conv, Reshape, Relu]\n"));
  EXPECT_NE(movement.find("fusion.sequences[0]: 'Reshape' only moves data"), std::string::npos)
      << movement;
  const auto single = load_error(with_fusion("fusion:\n  sequences:\n    - [Conv]\n"));
  EXPECT_NE(single.find("acc.yaml:20: fusion.sequences[0]: a fused sequence needs at least two"),
            std::string::npos)
      << single;
  const auto star = load_error(with_fusion("fusion:\n  sequences:\n    - [Conv, '*']\n"));
  EXPECT_NE(star.find("'*' (any compute op) may only start a sequence"), std::string::npos) << star;
  const auto internal =
      load_error(with_fusion("fusion:\n  sequences: []\n  internal_precision: [Conv, Softmaxx]\n"));
  EXPECT_NE(internal.find("acc.yaml:20: fusion.internal_precision: 'Conv' is a weighted op"),
            std::string::npos)
      << internal;
  EXPECT_NE(internal.find("'Softmaxx' is not an op type mpq knows"), std::string::npos) << internal;
  const auto typo = load_error(with_fusion("fusion:\n  sequence: []\n"));
  EXPECT_NE(typo.find("acc.yaml:19: fusion.sequence: unknown key"), std::string::npos) << typo;
}

// hw keeps no op list: what a fusion rule may name is what the op registry's traits say.
TEST(FusionRules, OpKindsAreTheRegistrysTraits) {
  for (std::string_view op : supported_op_types())
    EXPECT_NE(fusion_op_kind(op), hw::FusionOpKind::Unknown) << op;
  EXPECT_EQ(fusion_op_kind("Softmaxx"), hw::FusionOpKind::Unknown);
  for (const char* op : {"Conv", "ConvTranspose", "Gemm", "MatMul"})
    EXPECT_EQ(fusion_op_kind(op), hw::FusionOpKind::Weighted) << op;
  for (const char* op : {"Reshape", "Transpose", "Concat", "MaxPool"})
    EXPECT_EQ(fusion_op_kind(op), hw::FusionOpKind::DataMovement) << op;
  for (const char* op : {"Relu", "LayerNormalization", "Softmax", "Resize", "Add"})
    EXPECT_EQ(fusion_op_kind(op), hw::FusionOpKind::Compute) << op;
}

TEST(FusionRules, DefaultsAreTheAcceleratorWithoutAFusionSection) {
  const Network net = load_model("mobilenet");
  const auto acc = test::parse_or_die(test::kRooflineYaml);
  const QuantizerPlacement by_acc = place_quantizers(net, placement_rules_of(acc));
  const QuantizerPlacement by_default = place_quantizers(net);
  EXPECT_EQ(placement_fingerprint(by_acc), placement_fingerprint(by_default));
}

TEST(FusionRules, PlacementGroupsAndCostsFollowTheRules) {
  // The ViT: MatMul -> Add (bias) everywhere. Fusing them removes one activation quantizer per
  // bias Add whose MatMul feeds it alone.
  const Network net = load_model("vit");
  const auto plain = test::parse_or_die(with_fusion("fusion:\n  sequences: []\n"));
  const auto fused = test::parse_or_die(
      with_fusion("fusion:\n  sequences:\n    - [MatMul, Add]\n    - ['*', Relu]\n"));
  const QuantizerPlacement p0 = place_quantizers(net, placement_rules_of(plain));
  const QuantizerPlacement p1 = place_quantizers(net, placement_rules_of(fused));
  std::size_t matmul_add = 0;
  for (std::size_t k : net.order) {
    const OpNode& n = net.node(k);
    if (n.op_type != "MatMul") continue;
    for (std::size_t c : net.order)
      if (net.node(c).op_type == "Add" &&
          std::count(net.node(c).inputs.begin(), net.node(c).inputs.end(), n.outputs[0]) == 1) {
        ++matmul_add;
        EXPECT_EQ(p1.find(n.outputs[0]), nullptr) << n.outputs[0] << " is inside MatMul+Add";
        EXPECT_NE(p0.find(n.outputs[0]), nullptr) << n.outputs[0];
      }
  }
  EXPECT_GT(matmul_add, 10u);
  EXPECT_EQ(activations(p0) - activations(p1), matmul_add);
  EXPECT_NE(placement_fingerprint(p0), placement_fingerprint(p1));
  // The priced network (groups, costs) indexes the placement it is given: every quantizer of the
  // fused placement has a group, and there are fewer than the plain placement has.
  auto priced = price_network(net, p1, fused);
  ASSERT_TRUE(priced.ok()) << priced.error().message;
  EXPECT_EQ(priced->groups.group_of.size(), p1.quantizers.size());
  EXPECT_LT(priced->groups.group_of.size(), p0.quantizers.size());
}

TEST(FusionRules, InternalPrecisionOpsHaveNoOutputQuantizer) {
  const Network net = load_model("vit");
  const auto acc = test::parse_or_die(
      with_fusion("fusion:\n  sequences: [['*', Relu]]\n  internal_precision: [Softmax]\n"));
  const QuantizerPlacement p = place_quantizers(net, placement_rules_of(acc));
  int softmax = 0;
  for (std::size_t k : net.order)
    if (net.node(k).op_type == "Softmax") {
      ++softmax;
      EXPECT_EQ(p.find(net.node(k).outputs[0]), nullptr);
    }
  EXPECT_GT(softmax, 0);
}

}  // namespace
}  // namespace mpq
