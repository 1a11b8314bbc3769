#pragma once
// Op classes: the granularity at which accelerator descriptions say what runs at which precision.
// The names are the keys of configs/hw/*.yaml (op_classes:).
#include <cstddef>
#include <string>
#include <vector>

#include "network.hpp"

namespace mpq {

enum class OpClass {
  Conv,
  DepthwiseConv,  // Conv with group == input channels > 1
  ConvTranspose,
  Gemm,    // Gemm, and MatMul with a constant second input
  MatMul,  // MatMul of two activations
  Elementwise,
  Activation,
  Pooling,
  Normalization,
  Resize,
  DataMovement,
  Other
};

const char* op_class_name(OpClass c);
const std::vector<std::string>& op_class_names();  // in enum order
OpClass classify_op(const Network& net, std::size_t node);
// Classes whose ops multiply-accumulate (their MACs are what BOPs and throughput count).
bool is_mac_class(OpClass c);

}  // namespace mpq
