#pragma once
// What an accelerator runs fused, as plain data: op sequences that execute as one kernel, so
// no quantizer sits between their ops (Conv + activation, MatMul + bias Add, ...), and op types
// that compute internally at a higher precision than their input and output formats
// (normalizations, Softmax). hw/ only holds and checks the names; quantizer placement
// (graph/quantizer_placement.hpp) interprets them, search/ hands them over.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpq::hw {

// "*" as the first op of a sequence: any op that computes (not a data-movement op).
inline constexpr std::string_view kAnyComputeOp = "*";

struct FusionRules {
  std::vector<std::vector<std::string>> sequences;  // producer first
  std::vector<std::string> internal_precision;
};

// What an op type named in a fusion rule is. hw keeps no list of op types: the op registry's
// traits decide (search/hardware_groups.hpp's fusion_op_kind, passed in by search/ and cli/).
enum class FusionOpKind {
  Unknown,       // not an op type mpq runs
  Weighted,      // multiplies by a weight: a fused kernel starts with at most one of them
  DataMovement,  // only moves data: carries its input's quantizer and never fuses
  Compute,
};
using FusionOpKinds = FusionOpKind (*)(std::string_view op_type);

// Why `sequence` cannot run as one kernel, or nullopt when it can. Names `index` items.
std::optional<std::string> sequence_problem(const std::vector<std::string>& sequence,
                                            std::size_t& index, FusionOpKinds kinds);

}  // namespace mpq::hw
