#include "opset_upgrade.hpp"

#include <set>

namespace mpq {
namespace {

// Reductions whose `axes` attribute became the second input in opset 18 (ReduceSum: 13).
bool axes_became_input_at_18(const std::string& op) {
  static const std::set<std::string> kOps = {"ReduceL1",        "ReduceL2",   "ReduceLogSum",
                                             "ReduceLogSumExp", "ReduceMax",  "ReduceMean",
                                             "ReduceMin",       "ReduceProd", "ReduceSumSquare"};
  return kOps.count(op) != 0;
}

std::string fresh_name(const Model& m, std::string base) {
  while (m.initializers.count(base)) base += "_";
  return base;
}

}  // namespace

Status upgrade_opset(Model& m, std::int64_t target, const TensorShapes& types) {
  if (target < m.opset)
    return make_error("the model uses opset " + std::to_string(m.opset) +
                      "; the export cannot lower it to opset " + std::to_string(target) +
                      " (choose --opset " + std::to_string(m.opset) + " or later)");
  if (target == m.opset) return Ok{};
  if (m.opset < kConverterTargetOpset)
    if (auto st = upgrade_to_opset13(m, types); !st) return st;
  if (m.opset < 18 && target >= 18) {
    for (auto& n : m.nodes) {
      if (!axes_became_input_at_18(n.op_type) || !n.has_attr("axes")) continue;
      const std::string name = fresh_name(m, n.outputs.at(0) + "_axes");
      m.initializers[name] = Tensor::from_ints(n.attr_ints("axes"));
      n.attrs.erase("axes");
      n.inputs.resize(1);
      n.inputs.push_back(name);
    }
  }
  m.opset = target;
  return Ok{};
}

}  // namespace mpq
