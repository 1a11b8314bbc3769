#include "hardware_groups.hpp"

#include <algorithm>
#include <cassert>

#include "graph/op_class.hpp"
#include "sim/op_registry.hpp"

namespace mpq {
namespace {

std::string candidate_list(const hw::Accelerator& acc, const std::vector<bool>& mask) {
  std::string s;
  for (std::size_t c = 0; c < mask.size(); ++c)
    if (mask[c]) s += (s.empty() ? "" : ", ") + acc.candidates[c].name();
  return s.empty() ? "nothing" : s;
}

bool has_own_weights(const Network& net, const QuantizerPlacement& p, std::size_t node) {
  const OpNode& n = net.node(node);
  if (!has_weight_quantizer(net, node) || !n.has_input(1)) return false;
  const Quantizer* q = p.find(n.inputs[1]);
  return q && q->kind == QuantizerKind::Weight;
}

}  // namespace

GroupingRules grouping_rules_of(const hw::Accelerator& acc) {
  GroupingRules r;
  r.unify_inputs.insert(acc.grouping.unify_inputs.begin(), acc.grouping.unify_inputs.end());
  return r;
}

PlacementRules placement_rules_of(const hw::Accelerator& acc) {
  if (!acc.fusion) return PlacementRules::defaults();
  return {acc.fusion->sequences, acc.fusion->internal_precision};
}

hw::FusionOpKind fusion_op_kind(std::string_view op_type) {
  const OpTraits* t = find_op_traits(op_type);
  if (!t) return hw::FusionOpKind::Unknown;
  if (t->fn.weight_channel_axis) return hw::FusionOpKind::Weighted;
  if (t->placement == PlacementRole::DataMovement) return hw::FusionOpKind::DataMovement;
  return hw::FusionOpKind::Compute;
}

Result<std::vector<std::vector<int>>> group_candidates(const Network& net,
                                                       const QuantizerPlacement& p,
                                                       const QuantizerGroups& groups,
                                                       const hw::Accelerator& acc) {
  std::vector<std::vector<int>> out;
  std::string errors;
  for (const QuantizerGroup& g : groups.groups) {
    std::vector<bool> common(acc.candidates.size(), true);
    std::string per_op;
    for (std::size_t k : g.ops) {
      const OpNode& n = net.node(k);
      const std::string cls = op_class_name(classify_op(net, k));
      const auto mask = acc.accepted_candidates(cls, n.op_type, has_own_weights(net, p, k));
      for (std::size_t c = 0; c < common.size(); ++c) common[c] = common[c] && mask[c];
      per_op += "\n  " + n.label() + " (" + cls +
                (acc.pinned_ops.count(n.op_type) ? ", pinned" : "") +
                "): " + candidate_list(acc, mask);
    }
    std::vector<int> ids;
    for (std::size_t c = 0; c < common.size(); ++c)
      if (common[c]) ids.push_back(static_cast<int>(c));
    if (ids.empty())
      errors += (errors.empty() ? "" : "\n") + acc.name + ": quantizer group '" + g.name +
                "': no candidate all its ops support:" + per_op;
    out.push_back(std::move(ids));
  }
  if (!errors.empty()) return make_error(errors);
  return out;
}

int highest_candidate(const hw::Accelerator& acc, const std::vector<int>& candidates) {
  assert(!candidates.empty());
  int best = candidates.front();
  for (int c : candidates)
    if (higher_precision(acc.candidates[static_cast<std::size_t>(c)],
                         acc.candidates[static_cast<std::size_t>(best)]))
      best = c;
  return best;
}

GroupConfig baseline_candidates(const hw::Accelerator& acc,
                                const std::vector<std::vector<int>>& supported) {
  std::vector<int> common;
  for (std::size_t c = 0; c < acc.candidates.size(); ++c) {
    bool everywhere = true;
    for (const auto& s : supported)
      everywhere = everywhere && std::find(s.begin(), s.end(), static_cast<int>(c)) != s.end();
    if (everywhere) common.push_back(static_cast<int>(c));
  }
  GroupConfig config;
  for (const auto& s : supported)
    config.push_back(highest_candidate(acc, common.empty() ? s : common));
  return config;
}

}  // namespace mpq
