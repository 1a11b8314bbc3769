#pragma once
// Upgrade of models older than opset 13 to opset 13 with ONNX's own version converter
// (libonnx's onnx::version_conversion), one node at a time so that mpq's fused ops and
// nodes of other domains stay as they are. Where the converter's result computes something
// other than the old op, mpq fixes it: Upsample and Resize-10 become a Resize-13 that keeps
// their "asymmetric" coordinates and truncating nearest rounding (the converter leaves
// Resize-11's half_pixel defaults, which move every sample).
#include <cstdint>
#include <map>
#include <string>

#include "core/result.hpp"
#include "graph/model.hpp"

namespace mpq {

inline constexpr std::int64_t kOldestUpgradableOpset = 7;
inline constexpr std::int64_t kConverterTargetOpset = 13;

// The shapes of a prepared network's tensors (at batch 1), for ops whose conversion depends on
// their input's rank (Softmax-12's coerced 2-D axis). The model's own value_info wins where it
// has one (it keeps the symbolic batch dimension).
struct TensorShapes {
  const std::map<std::string, Shape>* shapes = nullptr;
  const std::map<std::string, DType>* dtypes = nullptr;
};

// Rewrites `m` from m.opset (7-12) to opset 13 in place, nodes in the same order (a node may
// become several). Errors name the node the converter could not upgrade; `m` is then unusable.
Status upgrade_to_opset13(Model& m, const TensorShapes& types);

}  // namespace mpq
