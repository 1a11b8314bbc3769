#include "cost_table.hpp"

#include <cassert>
#include <limits>

#include "hw/layer_cost.hpp"

namespace mpq {
namespace {

constexpr std::size_t kNoGroup = std::numeric_limits<std::size_t>::max();

CostMetrics metrics_of(const hw::LayerCost& c) {
  return {c.macs, c.bops, c.weight_bits, c.activation_bits, c.latency_s, c.energy_j};
}

}  // namespace

CostMetrics& CostMetrics::operator+=(const CostMetrics& o) {
  macs += o.macs, bops += o.bops, weight_bits += o.weight_bits;
  activation_bits += o.activation_bits, latency_s += o.latency_s, energy_j += o.energy_j;
  return *this;
}

CostMetrics& CostMetrics::operator-=(const CostMetrics& o) {
  macs -= o.macs, bops -= o.bops, weight_bits -= o.weight_bits;
  activation_bits -= o.activation_bits, latency_s -= o.latency_s, energy_j -= o.energy_j;
  return *this;
}

CostMetrics operator+(CostMetrics a, const CostMetrics& b) {
  return a += b;
}

CostMetrics operator-(CostMetrics a, const CostMetrics& b) {
  return a -= b;
}

CostTable CostTable::build(const hw::Accelerator& acc, std::vector<TableLayer> layers,
                           std::size_t num_groups) {
  CostTable t;
  // Distinct activation formats, in candidate order.
  std::vector<NumberFormat> act_formats;
  for (const auto& c : acc.candidates) {
    std::size_t f = 0;
    while (f < act_formats.size() && !(act_formats[f] == c.activation)) ++f;
    if (f == act_formats.size()) act_formats.push_back(c.activation);
    t.act_format_of_.push_back(static_cast<std::uint8_t>(f));
  }
  t.num_act_formats_ = act_formats.size();
  t.layers_of_group_.resize(num_groups);
  const std::size_t n_cand = acc.candidates.size();
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const LayerGroups& g = layers[l].groups;
    assert(g.mac >= 0 && static_cast<std::size_t>(g.mac) < num_groups);
    const std::size_t op_dim = g.operand >= 0 ? act_formats.size() : 1;
    const std::size_t out_dim = g.output >= 0 ? act_formats.size() : 1;
    t.offset_.push_back(t.entries_.size());
    t.operand_dim_.push_back(static_cast<std::uint8_t>(op_dim));
    t.output_dim_.push_back(static_cast<std::uint8_t>(out_dim));
    for (int grp : {g.mac, g.operand, g.output}) {
      if (grp < 0) continue;
      auto& v = t.layers_of_group_[static_cast<std::size_t>(grp)];
      if (v.empty() || v.back() != l) v.push_back(static_cast<std::uint32_t>(l));
    }
    for (std::size_t c = 0; c < n_cand; ++c)
      for (std::size_t of = 0; of < op_dim; ++of)
        for (std::size_t uf = 0; uf < out_dim; ++uf) {
          const Candidate& cand = acc.candidates[c];
          hw::OperandFormats f{g.operand >= 0 ? act_formats[of] : cand.weight, cand.activation,
                               g.output >= 0 ? act_formats[uf] : cand.activation};
          const hw::LayerCost cost =
              hw::layer_cost(acc, layers[l].workload, static_cast<int>(c), f);
          if (!cost.supported()) t.why_[t.entries_.size()] = cost.why;
          t.entries_.push_back(metrics_of(cost));
        }
  }
  t.layers_ = std::move(layers);
  return t;
}

std::size_t CostTable::entry(const std::vector<int>& config, std::size_t l, std::size_t group,
                             int candidate) const {
  const LayerGroups& g = layers_[l].groups;
  auto cand = [&](int grp) {
    return static_cast<std::size_t>(
        static_cast<std::size_t>(grp) == group ? candidate : config[static_cast<std::size_t>(grp)]);
  };
  const std::size_t c = cand(g.mac);
  const std::size_t of = g.operand >= 0 ? act_format_of_[cand(g.operand)] : 0;
  const std::size_t uf = g.output >= 0 ? act_format_of_[cand(g.output)] : 0;
  return offset_[l] + (c * operand_dim_[l] + of) * output_dim_[l] + uf;
}

CostMetrics CostTable::layer_cost(const std::vector<int>& config, std::size_t l) const {
  return entries_[entry(config, l, kNoGroup, 0)];
}

CostMetrics CostTable::total(const std::vector<int>& config) const {
  assert(config.size() == num_groups());
  CostMetrics sum;
  for (std::size_t l = 0; l < layers_.size(); ++l) sum += entries_[entry(config, l, kNoGroup, 0)];
  return sum;
}

CostMetrics CostTable::delta(const std::vector<int>& config, std::size_t group,
                             int candidate) const {
  CostMetrics d;
  for (std::uint32_t l : layers_of_group_[group]) {
    d += entries_[entry(config, l, group, candidate)];
    d -= entries_[entry(config, l, kNoGroup, 0)];
  }
  return d;
}

std::string CostTable::unsupported(const std::vector<int>& config) const {
  for (std::size_t l = 0; l < layers_.size(); ++l)
    if (auto it = why_.find(entry(config, l, kNoGroup, 0)); it != why_.end())
      return layers_[l].workload.name + ": " + it->second;
  return {};
}

}  // namespace mpq
