#include "bit_serial.hpp"

#include <algorithm>

namespace mpq::hw {

double bit_serial_operand_factor(const BitSerialArray& a, int bits) {
  // Whole passes and whole fused bricks: floor(8 / max(bits, 2)) (configs/hw/README.md).
  if (bits > a.max_bits) {
    const int passes = (bits + a.max_bits - 1) / a.max_bits;
    return 1.0 / passes;
  }
  const int fused = a.max_bits / std::max(bits, a.brick_bits);
  return static_cast<double>(fused);
}

double bit_serial_speedup(const BitSerialArray& a, int weight_bits, int activation_bits) {
  return bit_serial_operand_factor(a, weight_bits) * bit_serial_operand_factor(a, activation_bits);
}

}  // namespace mpq::hw
