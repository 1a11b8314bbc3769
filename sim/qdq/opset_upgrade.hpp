#pragma once
// Raising a model's default-domain opset, for writers whose target opset is newer than the
// model's (QuantizeLinear-21 is the first to define int4 and int16). Only ops whose meaning
// changed between the two versions need rewriting; between 13 and 21 those are the
// reductions, whose `axes` became an input in opset 18.
#include <cstdint>

#include "graph/model.hpp"
#include "graph/result.hpp"

namespace mpq {

inline constexpr std::int64_t kMinUpgradableOpset = 13;

// Rewrites `m` (nodes and initializers) from m.opset to `target` and sets m.opset. Errors:
// a target older than the model (downgrading is not supported) or a model older than opset 13.
Status upgrade_opset(Model& m, std::int64_t target);

}  // namespace mpq
