#include "explore_accelerator.hpp"

#include <limits>

#include "budget_ilp.hpp"
#include "front_search.hpp"
#include "greedy_budget.hpp"
#include "progress_meter.hpp"
#include "sensitivity_bisection.hpp"
#include "sensitivity_front.hpp"

namespace mpq {

Evaluation PointReporter::score(const AcceleratorOptions& s, const MpConfig& cfg) {
  auto m = evaluator_.evaluate(assignment_of(placement_, s, cfg));
  if (!m) return Evaluation::failed(m.error().message);
  if (m->failed()) return Evaluation::of(-std::numeric_limits<double>::infinity());
  return Evaluation::of(by_accuracy_ ? m->accuracy.value_or(0.0) : m->sqnr_db);
}

Result<PointReport> PointReporter::report(const AcceleratorOptions& s, std::string label,
                                          const MpConfig& cfg, double predicted_loss) {
  PointReport p;
  p.label = std::move(label);
  p.config = cfg;
  p.formats = assignment_of(placement_, s, cfg);
  for (std::size_t g = 0; g < cfg.size(); ++g) p.candidates.push_back(s.candidate(g, cfg[g]));
  auto metrics = evaluator_.evaluate(p.formats);
  if (!metrics) return metrics.error();
  p.metrics = std::move(metrics).value();
  p.predicted_loss = predicted_loss;
  for (const auto& other : all_) {
    const auto on_other = config_on(placement_, other, p.formats);
    p.cost.push_back(on_other ? std::optional(other.view->priced.table.total(*on_other))
                              : std::nullopt);
  }
  return p;
}

namespace {

// The front of the sorted list, every point evaluated into ax.front.
Result<MpFront> evaluate_front(AcceleratorExploration& ax, const AcceleratorOptions& s,
                               const std::vector<OptionChange>& changes, bool progress,
                               PointReporter& reporter) {
  auto front = sensitivity_front(ax.problem, changes);
  if (!front) return front.error();
  const auto& priced = s.view->priced;
  const std::string baseline =
      s.view->acc
          .candidates[static_cast<std::size_t>(priced.baseline.empty() ? 0 : priced.baseline[0])]
          .name();
  ProgressMeter meter("phase 2 (" + ax.name + "): front points",
                      static_cast<std::int64_t>(front->points.size()), progress);
  for (std::size_t k = 0; k < front->points.size(); ++k) {
    const std::string label = k == 0 ? "baseline (" + baseline + ")" : "front " + std::to_string(k);
    auto p = reporter.report(s, label, front_config(*front, k), front->points[k].loss);
    if (!p) return p.error();
    ax.front.push_back(std::move(p).value());
    meter.update(static_cast<std::int64_t>(k + 1));
  }
  meter.finish();
  return front;
}

Status add_homogeneous(AcceleratorExploration& ax, const AcceleratorOptions& s,
                       const std::vector<std::string>& names, PointReporter& reporter) {
  for (const auto& name : names) {
    auto c = parse_candidate(name);
    if (!c) return make_error("search.homogeneous: " + c.error().message);
    const HomogeneousConfig h = homogeneous_config(s, *c);
    // A candidate the accelerator runs nowhere is no reference point on it.
    if (h.unsupported == s.options.size()) continue;
    std::string label = c->name();
    if (h.unsupported)
      label += " (" + std::to_string(h.unsupported) + " groups at baseline: unsupported)";
    auto p = reporter.report(s, label, h.config, config_loss(ax.problem, h.config));
    if (!p) return p.error();
    ax.homogeneous.push_back(std::move(p).value());
  }
  return Ok{};
}

// Schaefer et al.: lower each group to its cheapest option, least sensitive first.
Result<SearchReport> bisection_search(const AcceleratorExploration& ax, const AcceleratorOptions& s,
                                      MemoizedEvaluator& evaluate, double bound,
                                      PointReporter& reporter) {
  std::vector<Lowering> lowerings;
  for (std::size_t g = 0; g < ax.problem.groups.size(); ++g) {
    const auto& opts = ax.problem.groups[g];
    if (opts.size() < 2) continue;
    std::size_t best = 1;
    for (std::size_t o = 2; o < opts.size(); ++o)
      if (opts[o].cost_delta < opts[best].cost_delta) best = o;
    lowerings.push_back({static_cast<int>(g), static_cast<int>(best), opts[best].loss});
  }
  auto bis = sensitivity_bisection(ax.problem, lowerings, evaluate, bound);
  if (!bis) return bis.error();
  SearchReport rep{"sensitivity-guided bisection",
                   bis->met,
                   bis->lowered,
                   bis->accuracy,
                   bis->evaluations,
                   std::nullopt};
  auto p = reporter.report(s, rep.method, bis->config, config_loss(ax.problem, bis->config));
  if (!p) return p.error();
  rep.result = std::move(p).value();
  return rep;
}

// The accuracy-bound searches; each counts the evaluations it needs on its own. The chosen
// point is the brute force's: the cheapest front point within the bound.
Status run_bound_searches(AcceleratorExploration& ax, const AcceleratorOptions& s,
                          const MpFront& front, const std::vector<OptionChange>& changes,
                          double bound, PointReporter& reporter) {
  const auto score = [&](const MpConfig& c) { return reporter.score(s, c); };
  const auto run = [&](const std::string& method, auto&& search,
                       const MpFront& f) -> Result<SearchReport> {
    MemoizedEvaluator me(score);
    auto r = search(f, me, bound);
    if (!r) return r.error();
    auto p = reporter.report(s, method, front_config(f, r->point), f.points[r->point].loss);
    if (!p) return p.error();
    SearchReport rep{method, r->met, r->point, r->accuracy, r->evaluations, std::move(p).value()};
    ax.searches.push_back(rep);
    return rep;
  };
  if (auto r = run("binary search", binary_search_front, front); !r) return r.error();
  if (auto r = run("interpolation search", interpolation_search_front, front); !r) return r.error();
  const auto brute = run("brute force", brute_force_front, front);
  if (!brute) return brute.error();
  auto reverse = reverse_sensitivity_front(ax.problem, changes);
  if (!reverse) return reverse.error();
  if (auto r = run("reverse (from the lowest candidates up)", first_meeting_front, *reverse); !r)
    return r.error();
  MemoizedEvaluator me(score);
  auto bisection = bisection_search(ax, s, me, bound, reporter);
  if (!bisection) return bisection.error();
  ax.searches.push_back(std::move(bisection).value());
  ax.chosen = brute->result;
  ax.chosen->label = "chosen (cheapest front point within the bound)";
  if (!brute->met)
    ax.note = "no configuration on the front meets the bound " + std::to_string(bound) +
              ": the baseline is returned";
  return Ok{};
}

Status run_budgets(AcceleratorExploration& ax, const AcceleratorOptions& s,
                   const std::vector<double>& fractions, PointReporter& reporter) {
  for (double f : fractions) {
    const std::string name = "budget " + std::to_string(f);
    BudgetReport b;
    b.fraction = f;
    b.budget = f * ax.problem.base_cost;
    auto ilp = solve_budget_ilp(ax.problem, b.budget);
    if (!ilp) return make_error(name + ": " + ilp.error().message);
    auto ilp_point = reporter.report(s, "ILP " + name, ilp->config, ilp->loss);
    if (!ilp_point) return ilp_point.error();
    b.ilp = std::move(ilp_point).value();
    auto greedy = greedy_budget(ax.problem, b.budget);
    if (!greedy) return make_error(name + ": " + greedy.error().message);
    auto greedy_point = reporter.report(s, "greedy " + name, greedy->config, greedy->loss);
    if (!greedy_point) return greedy_point.error();
    b.greedy = std::move(greedy_point).value();
    ax.budgets.push_back(std::move(b));
  }
  return Ok{};
}

}  // namespace

Result<AcceleratorExploration> explore_accelerator(const AcceleratorOptions& s,
                                                   const SensitivityList& list,
                                                   const TaskIndex& tasks,
                                                   const Phase2Settings& settings,
                                                   PointReporter& reporter) {
  AcceleratorExploration ax;
  ax.name = s.view->acc.name;
  ax.options = s.options;
  ax.cost_metric = settings.cost_metric;
  for (const auto& g : s.view->priced.groups.groups) ax.group_names.push_back(g.name);
  ax.problem = phase2_problem(s, tasks, settings.loss_metric, settings.cost_metric);
  const std::vector<OptionChange> changes = sorted_changes(list, s);
  auto front = evaluate_front(ax, s, changes, settings.progress, reporter);
  if (!front) return front.error();
  if (auto st = add_homogeneous(ax, s, settings.homogeneous, reporter); !st) return st.error();
  if (settings.bound)
    if (auto st = run_bound_searches(ax, s, *front, changes, *settings.bound, reporter); !st)
      return st.error();
  if (auto st = run_budgets(ax, s, settings.budget_fractions, reporter); !st) return st.error();
  return ax;
}

}  // namespace mpq
