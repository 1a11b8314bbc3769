#include "fusion_rules.hpp"

#include <algorithm>
#include <array>

namespace mpq::hw {
namespace {

// The op types mpq's engine runs (sim's op registry, with the canonicalization's mpq:: ops;
// tests/hw/fusion_rules_test.cpp checks that every registered op is named here).
constexpr std::array<std::string_view, 94> kOpTypes = {"Abs",
                                                       "Add",
                                                       "And",
                                                       "ArgMax",
                                                       "ArgMin",
                                                       "AveragePool",
                                                       "BatchNormalization",
                                                       "Cast",
                                                       "Ceil",
                                                       "Clip",
                                                       "Concat",
                                                       "ConstantOfShape",
                                                       "Conv",
                                                       "ConvTranspose",
                                                       "Div",
                                                       "Dropout",
                                                       "Elu",
                                                       "Equal",
                                                       "Erf",
                                                       "Exp",
                                                       "Expand",
                                                       "Flatten",
                                                       "Floor",
                                                       "Gather",
                                                       "GatherElements",
                                                       "GatherND",
                                                       "Gelu",
                                                       "Gemm",
                                                       "GlobalAveragePool",
                                                       "GlobalMaxPool",
                                                       "Greater",
                                                       "GreaterOrEqual",
                                                       "HardSigmoid",
                                                       "HardSwish",
                                                       "Identity",
                                                       "LayerNormalization",
                                                       "LeakyRelu",
                                                       "Less",
                                                       "LessOrEqual",
                                                       "Log",
                                                       "LogSoftmax",
                                                       "MatMul",
                                                       "Max",
                                                       "MaxPool",
                                                       "Mean",
                                                       "Min",
                                                       "Mish",
                                                       "Mod",
                                                       "Mul",
                                                       "Neg",
                                                       "Not",
                                                       "Or",
                                                       "PRelu",
                                                       "Pad",
                                                       "Pow",
                                                       "Reciprocal",
                                                       "ReduceLogSum",
                                                       "ReduceLogSumExp",
                                                       "ReduceMax",
                                                       "ReduceMean",
                                                       "ReduceMin",
                                                       "ReduceProd",
                                                       "ReduceSum",
                                                       "ReduceSumSquare",
                                                       "Relu",
                                                       "Reshape",
                                                       "Resize",
                                                       "Round",
                                                       "Selu",
                                                       "Shape",
                                                       "Sigmoid",
                                                       "Sign",
                                                       "Size",
                                                       "Slice",
                                                       "Softmax",
                                                       "Softplus",
                                                       "Softsign",
                                                       "Split",
                                                       "Sqrt",
                                                       "Squeeze",
                                                       "Sub",
                                                       "Sum",
                                                       "Tanh",
                                                       "Tile",
                                                       "Transpose",
                                                       "Unsqueeze",
                                                       "Upsample",
                                                       "Where",
                                                       "Xor",
                                                       "mpq::GateMul",
                                                       "mpq::RMSNormalization",
                                                       "mpq::SiLU",
                                                       "ReduceL1",
                                                       "ReduceL2"};

constexpr std::array<std::string_view, 4> kMacOps = {"Conv", "ConvTranspose", "Gemm", "MatMul"};

// As graph/quantizer_placement.cpp's is_data_movement_op (checked by the same test).
constexpr std::array<std::string_view, 15> kDataMovementOps = {
    "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice",  "Gather", "Concat",
    "MaxPool", "Pad",     "Identity",  "Split",   "Dropout",   "Expand", "Tile"};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& a, std::string_view s) {
  return std::find(a.begin(), a.end(), s) != a.end();
}

}  // namespace

bool is_known_op_type(std::string_view op) {
  return contains(kOpTypes, op);
}

bool is_mac_op_type(std::string_view op) {
  return contains(kMacOps, op);
}

bool is_data_movement_op_type(std::string_view op) {
  return contains(kDataMovementOps, op);
}

std::optional<std::string> sequence_problem(const std::vector<std::string>& sequence,
                                            std::size_t& index) {
  index = 0;
  if (sequence.size() < 2)
    return std::string("a fused sequence needs at least two ops, producer first");
  for (index = 0; index < sequence.size(); ++index) {
    const std::string& op = sequence[index];
    if (op == kAnyComputeOp) {
      if (index != 0) return std::string("'*' (any compute op) may only start a sequence");
      continue;
    }
    if (!is_known_op_type(op)) return "unknown op type '" + op + "'";
    if (is_data_movement_op_type(op))
      return "'" + op +
             "' only moves data (it carries its input's quantizer), so it cannot be part of a "
             "fused kernel";
    if (index > 0 && is_mac_op_type(op))
      return "'" + op +
             "' multiplies by a weight: a fused kernel has at most one such op, and it comes "
             "first";
  }
  index = 0;
  return std::nullopt;
}

}  // namespace mpq::hw
