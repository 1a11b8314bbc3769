#include "priced_network.hpp"

#include <cassert>

namespace mpq {

Result<PricedNetwork> price_network(const Network& net, const QuantizerPlacement& placement,
                                    const hw::Accelerator& acc) {
  // The groups index `placement`: it must be the one this accelerator's fusion rules give.
  assert(placement.rules == placement_rules_of(acc).describe());
  PricedNetwork p;
  p.groups = build_quantizer_groups(net, placement, grouping_rules_of(acc));
  auto supported = group_candidates(net, placement, p.groups, acc);
  if (!supported) return supported.error();
  p.supported = std::move(supported).value();
  p.baseline = baseline_candidates(acc, p.supported);
  p.layers = network_layers(net, placement, p.groups);
  std::vector<TableLayer> rows;
  for (const auto& l : p.layers) rows.push_back({l.workload, l.groups});
  p.table = CostTable::build(acc, std::move(rows), p.groups.groups.size());
  return p;
}

}  // namespace mpq
