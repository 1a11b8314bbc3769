#include "fusion_rules.hpp"

namespace mpq::hw {

std::optional<std::string> sequence_problem(const std::vector<std::string>& sequence,
                                            std::size_t& index, FusionOpKinds kinds) {
  index = 0;
  if (sequence.size() < 2)
    return std::string("a fused sequence needs at least two ops, producer first");
  for (index = 0; index < sequence.size(); ++index) {
    const std::string& op = sequence[index];
    if (op == kAnyComputeOp) {
      if (index != 0) return std::string("'*' (any compute op) may only start a sequence");
      continue;
    }
    const FusionOpKind kind = kinds(op);
    if (kind == FusionOpKind::Unknown) return "unknown op type '" + op + "'";
    if (kind == FusionOpKind::DataMovement)
      return "'" + op +
             "' only moves data (it carries its input's quantizer), so it cannot be part of a "
             "fused kernel";
    if (index > 0 && kind == FusionOpKind::Weighted)
      return "'" + op +
             "' multiplies by a weight: a fused kernel has at most one such op, and it comes "
             "first";
  }
  index = 0;
  return std::nullopt;
}

}  // namespace mpq::hw
