#include "priced_network.hpp"

namespace mpq {

Result<PricedNetwork> price_network(const Network& net, const hw::Accelerator& acc) {
  PricedNetwork p;
  p.placement = place_quantizers(net, placement_rules_of(acc));
  p.groups = build_quantizer_groups(net, p.placement, grouping_rules_of(acc));
  auto supported = group_candidates(net, p.placement, p.groups, acc);
  if (!supported) return supported.error();
  p.supported = std::move(supported).value();
  p.baseline = baseline_config(acc, p.supported);
  p.layers = network_layers(net, p.placement, p.groups);
  std::vector<TableLayer> rows;
  for (const auto& l : p.layers) rows.push_back({l.workload, l.groups});
  p.table = CostTable::build(acc, std::move(rows), p.groups.groups.size());
  return p;
}

}  // namespace mpq
