#include "op_class.hpp"

#include <set>

#include "quantizer_placement.hpp"

namespace mpq {
namespace {

bool in(const std::set<std::string>& s, const std::string& op) {
  return s.count(op) != 0;
}

const std::set<std::string> kElementwise = {
    "Add",  "Sub",         "Mul",   "Div", "Max",         "Min",        "Pow",
    "Sqrt", "Neg",         "Abs",   "Exp", "Log",         "Reciprocal", "Floor",
    "Ceil", "Round",       "Sign",  "Mod", "Equal",       "Greater",    "GreaterOrEqual",
    "Less", "LessOrEqual", "Where", "Not", "And",         "Or",         "Xor",
    "Sum",  "Mean",        "Cos",   "Sin", "mpq::GateMul"};
const std::set<std::string> kActivation = {
    "Relu",     "Clip",      "Sigmoid", "HardSigmoid",     "HardSwish",  "Gelu",     "Erf",
    "Tanh",     "LeakyRelu", "PRelu",   "Softmax",         "LogSoftmax", "Elu",      "Selu",
    "Softplus", "Softsign",  "Mish",    "ThresholdedRelu", "Celu",       "mpq::SiLU"};
const std::set<std::string> kPooling = {
    "AveragePool", "GlobalAveragePool", "MaxPool", "GlobalMaxPool", "LpPool", "GlobalLpPool"};
const std::set<std::string> kNormalization = {"LayerNormalization",
                                              "BatchNormalization",
                                              "InstanceNormalization",
                                              "GroupNormalization",
                                              "LpNormalization",
                                              "LRN",
                                              "ReduceMean",
                                              "ReduceSum",
                                              "ReduceMax",
                                              "ReduceMin",
                                              "ReduceProd",
                                              "ReduceL1",
                                              "ReduceL2",
                                              "ReduceLogSum",
                                              "ReduceLogSumExp",
                                              "ReduceSumSquare",
                                              "MeanVarianceNormalization",
                                              "mpq::RMSNormalization"};
const std::set<std::string> kResize = {"Resize", "Upsample"};
const std::set<std::string> kExtraDataMovement = {"Shape", "Size", "DepthToSpace", "SpaceToDepth",
                                                  "ConstantOfShape"};

bool is_depthwise(const Network& net, const OpNode& n) {
  const std::int64_t group = n.attr_int("group", 1);
  if (group <= 1 || !n.has_input(1)) return false;
  auto w = net.model.initializers.find(n.inputs[1]);
  Shape ws;
  if (w != net.model.initializers.end())
    ws = w->second.shape;
  else if (auto s = net.shapes.find(n.inputs[1]); s != net.shapes.end())
    ws = s->second;
  // W is [Cout, Cin / group, k...]: one input channel per group means Cin == group.
  return ws.size() >= 2 && ws[1] == 1;
}

}  // namespace

const char* op_class_name(OpClass c) {
  switch (c) {
    case OpClass::Conv:
      return "conv";
    case OpClass::DepthwiseConv:
      return "depthwise_conv";
    case OpClass::ConvTranspose:
      return "conv_transpose";
    case OpClass::Gemm:
      return "gemm";
    case OpClass::MatMul:
      return "matmul";
    case OpClass::Elementwise:
      return "elementwise";
    case OpClass::Activation:
      return "activation";
    case OpClass::Pooling:
      return "pooling";
    case OpClass::Normalization:
      return "normalization";
    case OpClass::Resize:
      return "resize";
    case OpClass::DataMovement:
      return "data_movement";
    case OpClass::Other:
      return "other";
  }
  return "other";
}

const std::vector<std::string>& op_class_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (int k = 0; k <= static_cast<int>(OpClass::Other); ++k)
      v.push_back(op_class_name(static_cast<OpClass>(k)));
    return v;
  }();
  return names;
}

OpClass classify_op(const Network& net, std::size_t node) {
  const OpNode& n = net.node(node);
  const std::string& op = n.op_type;
  if (op == "Conv") return is_depthwise(net, n) ? OpClass::DepthwiseConv : OpClass::Conv;
  if (op == "ConvTranspose") return OpClass::ConvTranspose;
  if (op == "Gemm") return OpClass::Gemm;
  if (op == "MatMul")
    return n.has_input(1) && net.model.is_constant(n.inputs[1]) ? OpClass::Gemm : OpClass::MatMul;
  if (in(kPooling, op)) return OpClass::Pooling;  // before data movement: MaxPool is both
  if (in(kElementwise, op)) return OpClass::Elementwise;
  if (in(kActivation, op)) return OpClass::Activation;
  if (in(kNormalization, op)) return OpClass::Normalization;
  if (in(kResize, op)) return OpClass::Resize;
  if (is_data_movement_op(op) || in(kExtraDataMovement, op)) return OpClass::DataMovement;
  return OpClass::Other;
}

bool is_mac_class(OpClass c) {
  return c == OpClass::Conv || c == OpClass::DepthwiseConv || c == OpClass::ConvTranspose ||
         c == OpClass::Gemm || c == OpClass::MatMul;
}

}  // namespace mpq
