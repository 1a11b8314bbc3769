#pragma once
// A network seen by one accelerator: its quantizer groups under the accelerator's grouping rules,
// each group's supported candidates, the baseline configuration and the cost table. The groups
// index the placement they were priced on: a run places its quantizers once and prices every
// accelerator on that one placement.
#include <vector>

#include "core/result.hpp"
#include "cost_table.hpp"
#include "graph/quantizer_groups.hpp"
#include "hardware_groups.hpp"
#include "hw/accelerator.hpp"
#include "network_workloads.hpp"

namespace mpq {

struct PricedNetwork {
  QuantizerGroups groups;  // quantizer indices into the placement given to price_network
  std::vector<std::vector<int>> supported;  // per group: candidate indices
  GroupConfig baseline;
  std::vector<NetworkLayer> layers;
  CostTable table;  // layer l of the table is layers[l]
};

// Errors: a group whose ops have no candidate in common.
Result<PricedNetwork> price_network(const Network& net, const QuantizerPlacement& placement,
                                    const hw::Accelerator& acc);

}  // namespace mpq
