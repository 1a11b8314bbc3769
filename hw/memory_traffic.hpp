#pragma once
// Where a layer's operands live and how many bytes cross each memory level (roofline, bit-serial
// and measured models). (ours) Operands are placed whole, input first, then output, then weights,
// each in the innermost level that still has room for it; the last level has no limit. An operand
// homed in level i is moved once through every level from i inwards, so level j carries the
// bytes of all operands homed at j or further out.
#include <array>

#include "accelerator.hpp"
#include "layer_workload.hpp"

namespace mpq::hw {

struct OperandBytes {
  double weights = 0;
  double inputs = 0;
  double outputs = 0;
};

OperandBytes operand_bytes(const LayerWorkload& w, const OperandFormats& f);

using LevelBytes = std::array<double, kMaxMemoryLevels>;

LevelBytes memory_traffic(const std::vector<MemoryLevel>& levels, const OperandBytes& b);
// Seconds to move `bytes` at each level's bandwidth, the slowest level deciding.
double memory_seconds(const std::vector<MemoryLevel>& levels, const LevelBytes& bytes);

}  // namespace mpq::hw
