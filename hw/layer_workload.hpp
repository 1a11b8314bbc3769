#pragma once
// A layer as the cost models see it: shapes and counts, no weights. Built from a Network (search/)
// or from a SCALE-Sim topology file (scalesim_topology.hpp).
#include <cstdint>
#include <string>

#include "core/number_format.hpp"

namespace mpq::hw {

struct LayerWorkload {
  std::string name;
  std::string op_class;  // one of kOpClassNames
  std::int64_t macs = 0;
  // GEMM view: gemm_count independent products (M x K) . (K x N). A convolution has M = output
  // pixels, N = filters per group, K = kernel window (kh x kw x input channels per group) and
  // gemm_count = groups, so a depthwise layer is one small GEMM per channel (as SCALE-Sim splits
  // it).
  std::int64_t gemm_m = 0;
  std::int64_t gemm_n = 0;
  std::int64_t gemm_k = 0;
  std::int64_t gemm_count = 1;
  std::int64_t weight_elements = 0;   // the second operand (constant weights)
  bool weight_is_activation = false;  // MatMul of two activations: the second operand is one too
  std::int64_t input_elements = 0;    // the first operand
  std::int64_t output_elements = 0;
};

// The formats the layer's operands are stored in.
struct OperandFormats {
  NumberFormat weights;  // the second operand
  NumberFormat inputs;
  NumberFormat outputs;
};

}  // namespace mpq::hw
