#include "elementwise.hpp"

namespace mpq {

void register_elementwise_ops(OpTable& t) {
  ops::register_unary_ops(t);
  ops::register_binary_ops(t);
}

}  // namespace mpq
