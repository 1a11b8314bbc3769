#pragma once
// Raising a model's default-domain opset, for writers whose target opset is newer than the
// model's (QuantizeLinear-21 is the first to define int4 and int16). Only ops whose meaning
// changed between the two versions need rewriting; between 13 and 21 those are the
// reductions, whose `axes` became an input in opset 18. Models older than 13 first go through
// ONNX's version converter (old_opset_upgrade.hpp).
#include <cstdint>

#include "core/result.hpp"
#include "graph/model.hpp"
#include "old_opset_upgrade.hpp"

namespace mpq {

inline constexpr std::int64_t kMinExportOpset = 13;

// Rewrites `m` (nodes and initializers) from m.opset to `target` and sets m.opset; the nodes
// must be in topological order (an old op may become several). Errors: a target older than
// the model (downgrading is not supported), or a model the converter cannot upgrade.
Status upgrade_opset(Model& m, std::int64_t target, const TensorShapes& types = {});

}  // namespace mpq
