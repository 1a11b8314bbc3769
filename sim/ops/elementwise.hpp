#pragma once
// Internal to the elementwise family: its two halves register through elementwise.cpp.
#include "sim/op_registry.hpp"

namespace mpq::ops {

void register_unary_ops(OpTable& t);   // elementwise_unary.cpp (activations, math, Cast)
void register_binary_ops(OpTable& t);  // elementwise_binary.cpp (arithmetic, compare, Where)

}  // namespace mpq::ops
