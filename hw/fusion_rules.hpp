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

// ONNX op types (and mpq's own fused ones) a fusion rule may name.
bool is_known_op_type(std::string_view op);
// Ops that multiply-accumulate with a weight: a fused kernel starts with at most one of them.
bool is_mac_op_type(std::string_view op);
// Ops that only move data; they carry their input's quantizer and never fuse.
bool is_data_movement_op_type(std::string_view op);

// Why `sequence` cannot run as one kernel, or nullopt when it can. Names `index` items.
std::optional<std::string> sequence_problem(const std::vector<std::string>& sequence,
                                            std::size_t& index);

}  // namespace mpq::hw
