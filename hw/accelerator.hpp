#pragma once
// An accelerator description as plain values (loaded from YAML by accelerator_loader.hpp).
// Units: Hz, bytes, bytes per second, picojoules; the YAML keys carry their own units.
#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/candidate.hpp"
#include "fusion_rules.hpp"
#include "measured_latency_table.hpp"

namespace mpq::hw {

enum class LatencyModelKind { Roofline, BitSerial, Systolic, Measured };
enum class Dataflow { WeightStationary, OutputStationary, InputStationary };

// What ops of one class (or the `default` entry) run at and how fast.
struct OpClassSupport {
  std::optional<std::vector<int>> candidates;  // indices into Accelerator::candidates; none = all
  std::map<int, double> macs_per_cycle;        // candidate index -> MACs per cycle (roofline)
};

inline constexpr std::size_t kMaxMemoryLevels = 4;

struct MemoryLevel {
  std::string name;
  double capacity_bytes = 0;  // the last level (off-chip) has no limit: +inf
  double bandwidth_bytes_per_s = 0;
  double energy_pj_per_byte = 0;
};

struct BitSerialArray {
  double macs_per_cycle_8x8 = 0;  // MACs per cycle with 8-bit weights and activations
  int brick_bits = 2;             // smallest operand width the bricks compute at
  int max_bits = 8;               // widest operand one pass handles; wider ones take passes
};

struct SystolicArray {
  int rows = 0;
  int cols = 0;
  Dataflow dataflow = Dataflow::WeightStationary;
  double ifmap_sram_bytes = 0;
  double filter_sram_bytes = 0;
  double ofmap_sram_bytes = 0;
};

// Op types whose float activation inputs must share one quantizer group.
struct GroupingRuleSet {
  std::vector<std::string> unify_inputs;
};

struct Accelerator {
  std::string name;
  std::string description;
  std::string source_file;
  double clock_hz = 0;
  std::vector<Candidate> candidates;
  std::map<std::string, OpClassSupport> op_classes;  // by class name, plus "default"
  std::map<std::string, int> pinned_ops;             // op type -> candidate index
  std::vector<double> energy_pj_per_mac;             // per candidate index
  std::vector<MemoryLevel> memory;                   // innermost (on-chip) first
  double layer_overhead_cycles = 0;
  GroupingRuleSet grouping;
  std::optional<FusionRules> fusion;  // absent: mpq's default placement rules
  LatencyModelKind latency_model = LatencyModelKind::Roofline;
  BitSerialArray bit_serial;                     // latency_model == BitSerial
  SystolicArray systolic;                        // latency_model == Systolic
  std::optional<MeasuredLatencyTable> measured;  // latency_model == Measured

  std::optional<int> candidate_index(const Candidate& c) const;
  // By its one spelling (Candidate::name, as the YAML declares it): "W8A8", "Wfp16Afp16".
  std::optional<int> candidate_index(std::string_view name) const;
  // The class entry, else the `default` entry, else nullptr (= supports every candidate).
  const OpClassSupport* support_of(const std::string& op_class) const;
  // Candidate indices ops of `op_class` (of type `op_type`) run at. An op without weights only
  // constrains the activation half: it accepts every candidate whose activation format one of its
  // supported candidates has. A pinned op type accepts only its pinned candidate (activation
  // format only, when it has no weights).
  std::vector<bool> accepted_candidates(const std::string& op_class, const std::string& op_type,
                                        bool has_weights) const;
  // MACs per cycle of `op_class` at candidate `c` under the roofline model; nullopt if unknown.
  std::optional<double> macs_per_cycle(const std::string& op_class, int c) const;
};

const char* latency_model_name(LatencyModelKind k);
const char* dataflow_name(Dataflow d);

}  // namespace mpq::hw
