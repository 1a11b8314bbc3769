#include "sim/op_registry.hpp"

namespace mpq {

void register_movement_ops(OpTable& t) { (void)t; }

}  // namespace mpq
