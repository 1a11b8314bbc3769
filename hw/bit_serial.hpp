#pragma once
// Bit Fusion-style fused bricks (Sharma et al., ISCA 2018): 2-bit bricks fuse into 8-bit
// multipliers, so narrower operands run several MACs per unit:
//   speedup(a, w) = floor(8 / max(a, 2)) x floor(8 / max(w, 2))   relative to 8 x 8 bits,
// hence 3 bits cost as 4 and 5..7 bits as 8. Operands wider than 8 bits take ceil(b / 8) passes.
#include "accelerator.hpp"

namespace mpq::hw {

// Throughput factor of one operand width on `a`'s bricks.
double bit_serial_operand_factor(const BitSerialArray& a, int bits);
double bit_serial_speedup(const BitSerialArray& a, int weight_bits, int activation_bits);

}  // namespace mpq::hw
