#pragma once
// The cost of one layer at one candidate on one accelerator: MACs, BOPs, weight memory,
// activation memory, latency and energy (ALGORITHMS.md, Cost metric and Hardware models).
#include <string>

#include "accelerator.hpp"
#include "layer_workload.hpp"
#include "memory_traffic.hpp"

namespace mpq::hw {

struct LayerCost {
  double macs = 0;
  double bops = 0;             // MACs x effective weight bits x effective input bits
  double weight_bits = 0;      // constant weights at their format
  double activation_bits = 0;  // the output activation at its format
  double compute_cycles = 0;
  double memory_cycles = 0;  // roofline: the memory side; systolic: stall cycles
  double latency_s = 0;      // +inf when the accelerator cannot run the layer (see `why`)
  double energy_j = 0;       // MACs x E_mac + sum over levels of bytes x E_byte
  LevelBytes bytes{};        // traffic per memory level
  std::string why;           // non-empty when unsupported
  bool supported() const { return why.empty(); }
};

// `candidate` indexes acc.candidates: the one whose throughput and energy per MAC apply.
// `f` are the operand formats (normally its weights/activations, and the output's format).
LayerCost layer_cost(const Accelerator& acc, const LayerWorkload& w, int candidate,
                     const OperandFormats& f);

// The usual formats: weights and input at candidate `c`, output at `output_format`.
OperandFormats formats_of(const Candidate& c, const NumberFormat& output_format);

}  // namespace mpq::hw
