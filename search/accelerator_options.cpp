#include "accelerator_options.hpp"

#include <algorithm>
#include <cmath>

#include "explorer.hpp"

namespace mpq {
namespace {

double loss_of(const TaskResult& r, SensitivityMetric m, const Candidate& c) {
  switch (m) {
    case SensitivityMetric::Sqnr:
      // Output noise power relative to the signal: adds up over groups quantized together.
      return std::isinf(r.metrics.sqnr_db) ? 0.0 : std::pow(10.0, -r.metrics.sqnr_db / 10.0);
    case SensitivityMetric::Accuracy:
    case SensitivityMetric::Alps:
      return std::max(0.0, r.metrics.float_accuracy.value_or(0) - r.metrics.accuracy.value_or(0));
    case SensitivityMetric::Agreement:
      return (100.0 - r.metrics.agreement) / 100.0;
    case SensitivityMetric::Kl:
      return std::max(0.0, r.metrics.kl);
    case SensitivityMetric::Mse:
      return std::max(0.0, r.metrics.mse);
    case SensitivityMetric::Eagl:
      // (ours) the entropy of the weight codes: bits - EAGL score; groups EAGL cannot see cost 0.
      return std::isnan(r.eagl) ? 0.0 : std::max(0.0, c.weight.bits - r.eagl);
    case SensitivityMetric::Fisher:
      // The squared first-order loss changes add up over groups (cross terms dropped).
      return std::isnan(r.fisher) ? 0.0 : r.fisher;
  }
  return 0;
}

}  // namespace

TaskIndex usable_tasks(const SensitivityList& list) {
  TaskIndex tasks;
  for (const auto& e : list.entries)
    if (!e.result.metrics.failed()) tasks[{e.result.group, e.result.candidate}] = &e.result;
  return tasks;
}

AcceleratorOptions accelerator_options(const AcceleratorView& view, const TaskIndex& tasks) {
  AcceleratorOptions s;
  s.view = &view;
  for (std::size_t g = 0; g < view.group_map.size(); ++g) {
    s.group_of_union[view.group_map[g]] = g;
    std::vector<int> opts{view.priced.baseline[g]};
    for (int c : view.priced.supported[g])
      if (c != opts[0] &&
          tasks.count({view.group_map[g], view.acc.candidates[static_cast<std::size_t>(c)]}))
        opts.push_back(c);
    s.options.push_back(std::move(opts));
  }
  return s;
}

FormatAssignment assignment_of(const QuantizerPlacement& placement, const AcceleratorOptions& s,
                               const MpConfig& cfg) {
  FormatAssignment f(placement.quantizers.size(), NumberFormat{});
  const auto& groups = s.view->priced.groups.groups;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const Candidate& c = s.candidate(g, cfg[g]);
    for (std::size_t q : groups[g].quantizers)
      f[q] = placement.quantizers[q].kind == QuantizerKind::Weight ? c.weight : c.activation;
  }
  return f;
}

std::optional<GroupConfig> config_on(const QuantizerPlacement& placement,
                                     const AcceleratorOptions& s, const FormatAssignment& f) {
  const auto& groups = s.view->priced.groups.groups;
  const auto& candidates = s.view->acc.candidates;
  GroupConfig out;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::optional<NumberFormat> w, a;
    for (std::size_t q : groups[g].quantizers) {
      auto& slot = placement.quantizers[q].kind == QuantizerKind::Weight ? w : a;
      if (slot && !(*slot == f[q])) return std::nullopt;  // the group would need two formats
      slot = f[q];
    }
    const auto& supported = s.view->priced.supported[g];
    const auto found = std::find_if(supported.begin(), supported.end(), [&](int c) {
      const Candidate& cand = candidates[static_cast<std::size_t>(c)];
      return (!w || cand.weight == *w) && (!a || cand.activation == *a);
    });
    if (found == supported.end()) return std::nullopt;
    out.push_back(*found);
  }
  return out;
}

MpProblem phase2_problem(const AcceleratorOptions& s, const TaskIndex& tasks,
                         SensitivityMetric metric, const std::string& cost_metric) {
  const AcceleratorView& view = *s.view;
  MpProblem p;
  p.base_cost = cost_of(view.priced.table.total(view.priced.baseline), cost_metric);
  for (std::size_t g = 0; g < s.options.size(); ++g) {
    std::vector<MpOption> opts(s.options[g].size());
    for (std::size_t o = 1; o < s.options[g].size(); ++o) {
      const int c = s.options[g][o];
      const Candidate& cand = s.candidate(g, static_cast<int>(o));
      opts[o].loss = loss_of(*tasks.at({view.group_map[g], cand}), metric, cand);
      opts[o].cost_delta =
          cost_of(view.priced.table.delta(view.priced.baseline, g, c), cost_metric);
    }
    p.groups.push_back(std::move(opts));
  }
  return p;
}

std::vector<OptionChange> sorted_changes(const SensitivityList& list, const AcceleratorOptions& s) {
  std::vector<OptionChange> changes;
  for (const auto& e : list.entries) {
    auto g = s.group_of_union.find(e.result.group);
    if (g == s.group_of_union.end()) continue;
    const auto& opts = s.options[g->second];
    for (std::size_t o = 1; o < opts.size(); ++o)
      if (s.candidate(g->second, static_cast<int>(o)) == e.result.candidate)
        changes.push_back({static_cast<int>(g->second), static_cast<int>(o)});
  }
  return changes;
}

HomogeneousConfig homogeneous_config(const AcceleratorOptions& s, const Candidate& c) {
  HomogeneousConfig h{MpConfig(s.options.size(), 0), 0};
  for (std::size_t g = 0; g < s.options.size(); ++g) {
    bool found = s.candidate(g, 0) == c;
    for (std::size_t o = 1; o < s.options[g].size() && !found; ++o)
      if (s.candidate(g, static_cast<int>(o)) == c) {
        h.config[g] = static_cast<int>(o);
        found = true;
      }
    h.unsupported += !found;
  }
  return h;
}

}  // namespace mpq
