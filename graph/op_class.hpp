#pragma once
// Op classes: the granularity at which accelerator descriptions say what runs at which precision.
// The names are the keys of configs/hw/*.yaml (op_classes:).
#include <cstddef>
#include <string>
#include <vector>

#include "network.hpp"
#include "op_traits.hpp"  // OpClass

namespace mpq {

const char* op_class_name(OpClass c);
const std::vector<std::string>& op_class_names();  // in enum order
// The node's class from its traits (OpTraits::op_class, refined for that node).
OpClass classify_op(const Network& net, std::size_t node);
// Classes whose ops multiply-accumulate (their MACs are what BOPs and throughput count).
bool is_mac_class(OpClass c);

}  // namespace mpq
