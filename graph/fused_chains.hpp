#pragma once
// Which tensors lie inside an op chain that runs as one kernel (PlacementRules), so that
// quantizer placement puts no quantizer on them.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "network.hpp"
#include "quantizer_placement.hpp"

namespace mpq {

// Outputs of every op of a matched chain but its last, and outputs of internal-precision ops.
// `consumers`: tensor -> the nodes reading it; `model_outputs`: graph outputs (never fused).
std::set<std::string> fused_intermediates(
    const Network& net, const PlacementRules& rules,
    const std::map<std::string, std::vector<std::size_t>>& consumers,
    const std::set<std::string>& model_outputs);

}  // namespace mpq
