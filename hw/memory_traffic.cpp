#include "memory_traffic.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

namespace mpq::hw {

// Storage bits per element: a block format's scales travel with its elements (MXFP4 4.25).
OperandBytes operand_bytes(const LayerWorkload& w, const OperandFormats& f) {
  return {static_cast<double>(w.weight_elements) * f.weights.storage_bits() / 8.0,
          static_cast<double>(w.input_elements) * f.inputs.storage_bits() / 8.0,
          static_cast<double>(w.output_elements) * f.outputs.storage_bits() / 8.0};
}

LevelBytes memory_traffic(const std::vector<MemoryLevel>& levels, const OperandBytes& b) {
  assert(!levels.empty() && levels.size() <= kMaxMemoryLevels);
  std::array<double, kMaxMemoryLevels> room{};
  for (std::size_t k = 0; k < levels.size(); ++k) room[k] = levels[k].capacity_bytes;
  room[levels.size() - 1] = std::numeric_limits<double>::infinity();
  LevelBytes bytes{};
  for (double size : {b.inputs, b.outputs, b.weights}) {
    std::size_t home = 0;
    while (room[home] < size) ++home;  // the last level always has room
    room[home] -= size;
    for (std::size_t k = 0; k <= home; ++k) bytes[k] += size;
  }
  return bytes;
}

double memory_seconds(const std::vector<MemoryLevel>& levels, const LevelBytes& bytes) {
  double t = 0;
  for (std::size_t k = 0; k < levels.size(); ++k)
    t = std::max(t, bytes[k] / levels[k].bandwidth_bytes_per_s);
  return t;
}

}  // namespace mpq::hw
