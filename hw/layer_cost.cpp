#include "layer_cost.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "bit_serial.hpp"
#include "systolic_model.hpp"

namespace mpq::hw {
namespace {

constexpr double kPico = 1e-12;

void set_unsupported(LayerCost& c, std::string why) {
  c.why = std::move(why);
  c.latency_s = std::numeric_limits<double>::infinity();
}

// Roofline, bit-serial and measured: operands placed in the hierarchy, one pass each.
void hierarchy_latency(const Accelerator& acc, const LayerWorkload& w, int cand,
                       const OperandFormats& f, LayerCost& c) {
  c.bytes = memory_traffic(acc.memory, operand_bytes(w, f));
  const double mem_s = memory_seconds(acc.memory, c.bytes);
  c.memory_cycles = mem_s * acc.clock_hz;
  const std::string cname = acc.candidates[static_cast<std::size_t>(cand)].name();
  if (acc.latency_model == LatencyModelKind::Measured) {
    assert(acc.measured);
    auto s = acc.measured->find(w.name, cand);
    if (!s)
      return set_unsupported(c, "no measured latency for layer '" + w.name + "' at " + cname +
                                    " in " + acc.measured->path);
    c.latency_s = *s;  // the measurement includes everything
    c.compute_cycles = *s * acc.clock_hz;
    return;
  }
  double macs_per_cycle = 0;
  if (acc.latency_model == LatencyModelKind::BitSerial) {
    macs_per_cycle = acc.bit_serial.macs_per_cycle_8x8 *
                     bit_serial_speedup(acc.bit_serial, f.weights.bits, f.inputs.bits);
  } else {
    auto m = acc.macs_per_cycle(w.op_class, cand);
    if (!m && w.macs > 0)
      return set_unsupported(c, acc.name + " has no throughput for " + w.op_class + " at " + cname);
    macs_per_cycle = m.value_or(1);
  }
  c.compute_cycles = static_cast<double>(w.macs) / macs_per_cycle;
  c.latency_s =
      std::max(c.compute_cycles / acc.clock_hz, mem_s) + acc.layer_overhead_cycles / acc.clock_hz;
}

void systolic_latency(const Accelerator& acc, const LayerWorkload& w, const OperandFormats& f,
                      LayerCost& c) {
  assert(acc.memory.size() == 2);
  const double dram_per_cycle = acc.memory.back().bandwidth_bytes_per_s / acc.clock_hz;
  const SystolicRun r = systolic_run(acc.systolic, w, f, dram_per_cycle);
  c.compute_cycles = r.compute_cycles;
  c.memory_cycles = r.stall_cycles;
  c.bytes[0] = r.sram_bytes;
  c.bytes[1] = r.dram_bytes;
  c.latency_s = (r.compute_cycles + r.stall_cycles + acc.layer_overhead_cycles) / acc.clock_hz;
}

}  // namespace

OperandFormats formats_of(const Candidate& c, const NumberFormat& output_format) {
  return {c.weight, c.activation, output_format};
}

LayerCost layer_cost(const Accelerator& acc, const LayerWorkload& w, int cand,
                     const OperandFormats& f) {
  assert(cand >= 0 && static_cast<std::size_t>(cand) < acc.candidates.size());
  LayerCost c;
  c.macs = static_cast<double>(w.macs);
  c.bops = c.macs * f.weights.effective_bits() * f.inputs.effective_bits();
  c.weight_bits = w.weight_is_activation
                      ? 0.0
                      : static_cast<double>(w.weight_elements) * f.weights.storage_bits();
  c.activation_bits = static_cast<double>(w.output_elements) * f.outputs.storage_bits();
  if (acc.latency_model == LatencyModelKind::Systolic && w.macs > 0)
    systolic_latency(acc, w, f, c);
  else
    hierarchy_latency(acc, w, cand, f, c);
  double pj = c.macs * acc.energy_pj_per_mac[static_cast<std::size_t>(cand)];
  for (std::size_t k = 0; k < acc.memory.size(); ++k)
    pj += c.bytes[k] * acc.memory[k].energy_pj_per_byte;
  c.energy_j = pj * kPico;
  return c;
}

}  // namespace mpq::hw
