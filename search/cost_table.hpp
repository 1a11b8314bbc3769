#pragma once
// Every metric of every (layer, candidate) on one accelerator, computed once, so the search prices
// a configuration with table lookups: total() reads one entry per layer, delta() (one group
// changing candidate) reads two entries per layer the group touches.
//
// A layer's cost depends on up to three groups (LayerGroups): the mac group's candidate (weights,
// input, throughput, energy per MAC), the operand group's activation format (MatMul of two
// activations) and the output group's activation format. The table holds, per layer, one entry per
// (mac candidate, operand format, output format), formats ranging over the accelerator's distinct
// activation formats.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hw/accelerator.hpp"
#include "hw/layer_workload.hpp"
#include "network_workloads.hpp"

namespace mpq {

struct CostMetrics {
  double macs = 0;
  double bops = 0;
  double weight_bits = 0;
  double activation_bits = 0;
  double latency_s = 0;
  double energy_j = 0;

  CostMetrics& operator+=(const CostMetrics& o);
  CostMetrics& operator-=(const CostMetrics& o);
};
CostMetrics operator+(CostMetrics a, const CostMetrics& b);
CostMetrics operator-(CostMetrics a, const CostMetrics& b);

struct TableLayer {
  hw::LayerWorkload workload;
  LayerGroups groups;
};

class CostTable {
 public:
  CostTable() = default;
  // Every group index in `layers` must be < num_groups.
  static CostTable build(const hw::Accelerator& acc, std::vector<TableLayer> layers,
                         std::size_t num_groups);

  std::size_t num_layers() const { return layers_.size(); }
  std::size_t num_groups() const { return layers_of_group_.size(); }
  const TableLayer& layer(std::size_t l) const { return layers_[l]; }
  // Layers whose cost depends on group g.
  const std::vector<std::uint32_t>& layers_of_group(std::size_t g) const {
    return layers_of_group_[g];
  }

  // `config`: a candidate index per group.
  CostMetrics layer_cost(const std::vector<int>& config, std::size_t l) const;
  CostMetrics total(const std::vector<int>& config) const;
  // total(config with group -> candidate) - total(config), touching only the group's layers.
  CostMetrics delta(const std::vector<int>& config, std::size_t group, int candidate) const;
  // The first layer the accelerator cannot run under `config`, with the reason; "" if none.
  std::string unsupported(const std::vector<int>& config) const;

 private:
  std::size_t entry(const std::vector<int>& config, std::size_t l, std::size_t group,
                    int candidate) const;

  std::vector<TableLayer> layers_;
  std::vector<std::size_t> offset_;                     // first entry of each layer
  std::vector<std::uint8_t> operand_dim_, output_dim_;  // per layer: 1 or #activation formats
  std::vector<CostMetrics> entries_;
  std::map<std::size_t, std::string> why_;  // entry -> why it cannot run
  std::vector<std::vector<std::uint32_t>> layers_of_group_;
  std::vector<std::uint8_t> act_format_of_;  // candidate -> activation format index
  std::size_t num_act_formats_ = 0;
};

}  // namespace mpq
