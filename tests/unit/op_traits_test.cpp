// Every op the engine runs states its facts in its row of the op registry (sim/ops/*.cpp,
// OpSpec::traits): op class, placement role, weight, MACs. Adding an op adds its row to kRows
// too; the class and role of each row are those of the lists these facts were read from before
// the registry held them (graph/op_class.cpp and graph/quantizer_placement.cpp).
#include <gtest/gtest.h>

#include <set>
#include <string_view>

#include "graph/op_class.hpp"
#include "sim/op_registry.hpp"

namespace mpq {
namespace {

// A registry row without traits does not compile; one with them does (so the first assertion
// fails for the right reason).
template <class Row>
concept BuiltWithoutTraits = requires(KernelFn run) {
  Row{std::string_view{}, run};
};
template <class Row>
concept BuiltWithTraits = requires(OpTraits traits, KernelFn run) {
  Row{std::string_view{}, traits, run};
};
static_assert(!BuiltWithoutTraits<OpSpec>);
static_assert(BuiltWithTraits<OpSpec>);

constexpr PlacementRole kComputes = PlacementRole::Compute;
constexpr PlacementRole kMoves = PlacementRole::DataMovement;
constexpr PlacementRole kNearest = PlacementRole::PassThroughWhenNearest;

struct Row {
  std::string_view op;
  std::string_view op_class;  // before refine_class (a depthwise Conv, a MatMul by a constant)
  PlacementRole placement;
  bool weighted;  // a weight quantizer, MACs and a GEMM view
};

// clang-format off
const Row kRows[] = {
    {"Abs", "elementwise", kComputes, false},
    {"Add", "elementwise", kComputes, false},
    {"And", "elementwise", kComputes, false},
    {"ArgMax", "other", kComputes, false},
    {"ArgMin", "other", kComputes, false},
    {"AveragePool", "pooling", kComputes, false},
    {"BatchNormalization", "normalization", kComputes, false},
    {"Cast", "other", kComputes, false},
    {"Ceil", "elementwise", kComputes, false},
    {"Clip", "activation", kComputes, false},
    {"Concat", "data_movement", kMoves, false},
    {"ConstantOfShape", "data_movement", kComputes, false},
    {"Conv", "conv", kComputes, true},
    {"ConvTranspose", "conv_transpose", kComputes, true},
    {"Div", "elementwise", kComputes, false},
    {"Dropout", "data_movement", kMoves, false},
    {"Elu", "activation", kComputes, false},
    {"Equal", "elementwise", kComputes, false},
    {"Erf", "activation", kComputes, false},
    {"Exp", "elementwise", kComputes, false},
    {"Expand", "data_movement", kMoves, false},
    {"Flatten", "data_movement", kMoves, false},
    {"Floor", "elementwise", kComputes, false},
    {"Gather", "data_movement", kMoves, false},
    {"GatherElements", "other", kComputes, false},
    {"GatherND", "other", kComputes, false},
    {"Gelu", "activation", kComputes, false},
    {"Gemm", "gemm", kComputes, true},
    {"GlobalAveragePool", "pooling", kComputes, false},
    {"GlobalMaxPool", "pooling", kComputes, false},
    {"Greater", "elementwise", kComputes, false},
    {"GreaterOrEqual", "elementwise", kComputes, false},
    {"HardSigmoid", "activation", kComputes, false},
    {"HardSwish", "activation", kComputes, false},
    {"Identity", "data_movement", kMoves, false},
    {"LayerNormalization", "normalization", kComputes, false},
    {"LeakyRelu", "activation", kComputes, false},
    {"Less", "elementwise", kComputes, false},
    {"LessOrEqual", "elementwise", kComputes, false},
    {"Log", "elementwise", kComputes, false},
    {"LogSoftmax", "activation", kComputes, false},
    {"MatMul", "matmul", kComputes, true},
    {"Max", "elementwise", kComputes, false},
    {"MaxPool", "pooling", kMoves, false},
    {"Mean", "elementwise", kComputes, false},
    {"Min", "elementwise", kComputes, false},
    {"Mish", "activation", kComputes, false},
    {"Mod", "elementwise", kComputes, false},
    {"Mul", "elementwise", kComputes, false},
    {"Neg", "elementwise", kComputes, false},
    {"Not", "elementwise", kComputes, false},
    {"Or", "elementwise", kComputes, false},
    {"PRelu", "activation", kComputes, false},
    {"Pad", "data_movement", kMoves, false},
    {"Pow", "elementwise", kComputes, false},
    {"Reciprocal", "elementwise", kComputes, false},
    {"ReduceL1", "normalization", kComputes, false},
    {"ReduceL2", "normalization", kComputes, false},
    {"ReduceLogSum", "normalization", kComputes, false},
    {"ReduceLogSumExp", "normalization", kComputes, false},
    {"ReduceMax", "normalization", kComputes, false},
    {"ReduceMean", "normalization", kComputes, false},
    {"ReduceMin", "normalization", kComputes, false},
    {"ReduceProd", "normalization", kComputes, false},
    {"ReduceSum", "normalization", kComputes, false},
    {"ReduceSumSquare", "normalization", kComputes, false},
    {"Relu", "activation", kComputes, false},
    {"Reshape", "data_movement", kMoves, false},
    {"Resize", "resize", kNearest, false},
    {"Round", "elementwise", kComputes, false},
    {"Selu", "activation", kComputes, false},
    {"Shape", "data_movement", kComputes, false},
    {"Sigmoid", "activation", kComputes, false},
    {"Sign", "elementwise", kComputes, false},
    {"Size", "data_movement", kComputes, false},
    {"Slice", "data_movement", kMoves, false},
    {"Softmax", "activation", kComputes, false},
    {"Softplus", "activation", kComputes, false},
    {"Softsign", "activation", kComputes, false},
    {"Split", "data_movement", kMoves, false},
    {"Sqrt", "elementwise", kComputes, false},
    {"Squeeze", "data_movement", kMoves, false},
    {"Sub", "elementwise", kComputes, false},
    {"Sum", "elementwise", kComputes, false},
    {"Tanh", "activation", kComputes, false},
    {"Tile", "data_movement", kMoves, false},
    {"Transpose", "data_movement", kMoves, false},
    {"Unsqueeze", "data_movement", kMoves, false},
    {"Upsample", "resize", kNearest, false},
    {"Where", "elementwise", kComputes, false},
    {"Xor", "elementwise", kComputes, false},
    {"mpq::GateMul", "elementwise", kComputes, false},
    {"mpq::RMSNormalization", "normalization", kComputes, false},
    {"mpq::SiLU", "activation", kComputes, false},
};
// clang-format on

TEST(OpTraits, EveryRegisteredKernelHasItsRowAndEveryRowItsKernel) {
  std::set<std::string_view> rows;
  for (const Row& r : kRows) EXPECT_TRUE(rows.insert(r.op).second) << r.op << " has two rows";
  for (std::string_view op : supported_op_types())
    EXPECT_TRUE(rows.count(op)) << op << " is registered but has no row in kRows";
  for (const Row& r : kRows) {
    const OpSpec* spec = find_op(r.op);
    ASSERT_NE(spec, nullptr) << r.op << " has a row but no kernel in the registry";
    EXPECT_NE(spec->run, nullptr) << r.op;
    EXPECT_EQ(find_op_traits(r.op), &spec->traits) << r.op;
  }
  EXPECT_EQ(find_op_traits("LSTM"), nullptr);
}

// Reverse mode (sim/backward.hpp): every op has a backward rule next to its kernel or says in
// its traits that no gradient flows through it, except these, which have neither yet: a network
// that needs a gradient through one is refused, naming the op and node.
const std::set<std::string_view> kWithoutBackwardRule = {"Mod", "Resize", "Upsample"};

TEST(OpTraits, EachOpHasABackwardRuleOrSaysNoGradientFlows) {
  for (std::string_view op : supported_op_types()) {
    const OpSpec* spec = find_op(op);
    const bool covered = spec->backward != nullptr || spec->traits.gradient.none;
    EXPECT_NE(covered, kWithoutBackwardRule.count(op) > 0) << op;
    EXPECT_FALSE(spec->backward && spec->traits.gradient.none) << op << ": both a rule and none";
  }
}

TEST(OpTraits, EachOpStatesItsClassPlacementAndWeight) {
  for (const Row& r : kRows) {
    const OpTraits* t = find_op_traits(r.op);
    if (!t) continue;  // reported above
    EXPECT_EQ(op_class_name(t->op_class), r.op_class) << r.op;
    EXPECT_EQ(t->placement, r.placement) << r.op;
    EXPECT_EQ(t->fn.weight_channel_axis != nullptr, r.weighted) << r.op;
    EXPECT_EQ(t->fn.macs != nullptr, r.weighted) << r.op;
    EXPECT_EQ(t->fn.gemm_view != nullptr, r.weighted) << r.op;
    EXPECT_EQ(is_mac_class(t->op_class), r.weighted) << r.op;
  }
}

TEST(OpTraits, ANetworkOfAnOpMpqDoesNotRunIsNotBuilt) {
  Model m;
  m.inputs.push_back({"x", DType::Float32, {1, 4}, {"", ""}, true});
  m.outputs.push_back({"y", DType::Float32, {1, 4}, {"", ""}, true});
  OpNode n;
  n.name = "rnn";
  n.op_type = "LSTM";
  n.inputs = {"x"};
  n.outputs = {"y"};
  m.nodes.push_back(n);
  auto net = build_network(m, find_op_traits);
  ASSERT_FALSE(net.ok());
  EXPECT_NE(net.error().message.find("LSTM 'rnn'"), std::string::npos) << net.error().message;
  m.nodes[0].op_type = "Relu";
  auto relu = build_network(m, find_op_traits);
  ASSERT_TRUE(relu.ok()) << relu.error().message;
  EXPECT_EQ(&relu->traits(0), find_op_traits("Relu"));
}

}  // namespace
}  // namespace mpq
