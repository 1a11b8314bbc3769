#include "explorer.hpp"

#include <cctype>
#include <cstdio>
#include <limits>

#include "explore_accelerator.hpp"

namespace mpq {
namespace {

std::string budget_accelerator(const Phase1Context& ctx) {
  const auto& b = ctx.spec.budgets;
  if (!b || b->accelerator.empty()) return ctx.accelerators.front().acc.name;
  return b->accelerator;
}

// The samples phase 2 evaluates on: data.evaluation (all of it) when given, else phase 1's
// scoring samples (as many as phase 1 used).
struct EvaluationData {
  SampleSource samples;
  std::int64_t limit = -1;
};

Result<EvaluationData> evaluation_data(const Phase1Context& ctx) {
  const ExperimentSpec& x = ctx.spec;
  if (x.evaluation.empty()) return EvaluationData{ctx.scoring, x.samples};
  auto s = open_samples(x.sample_spec(x.evaluation), ctx.net);
  if (!s) return make_error("evaluation data: " + s.error().message);
  if (auto b = batch_size_for(ctx.net, x.batch, s->count, s->description); !b)
    return make_error("evaluation data: " + b.error().message);
  return EvaluationData{std::move(s).value(), -1};
}

Phase2Settings settings_for(const Phase1Context& ctx, const Phase1Result& phase1,
                            const std::string& accelerator, std::optional<double> bound,
                            bool progress) {
  const ExperimentSpec& x = ctx.spec;
  Phase2Settings s;
  s.loss_metric = phase1.list.metric;
  s.cost_metric = x.budgets ? x.budgets->metric : "bops";
  s.bound = bound;
  s.homogeneous = x.homogeneous;
  if (x.budgets && budget_accelerator(ctx) == accelerator)
    s.budget_fractions = x.budgets->fractions;
  s.progress = progress;
  return s;
}

// The configurations written for one accelerator: its chosen point and its budget points.
void add_configs(Exploration& out, const AcceleratorExploration& ax,
                 AssignmentEvaluator& evaluator) {
  const auto stem = [&](std::string t) {
    for (char& ch : t)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-') ch = '_';
    return ax.name + "_" + t;
  };
  if (ax.chosen) out.configs.emplace_back(stem("chosen"), evaluator.config_of(ax.chosen->formats));
  for (const auto& b : ax.budgets) {
    char f[32];
    std::snprintf(f, sizeof f, "%g", b.fraction);
    out.configs.emplace_back(stem(std::string("budget_") + f + "_ilp"),
                             evaluator.config_of(b.ilp->formats));
    out.configs.emplace_back(stem(std::string("budget_") + f + "_greedy"),
                             evaluator.config_of(b.greedy->formats));
  }
}

}  // namespace

double cost_of(const CostMetrics& c, const std::string& metric) {
  if (metric == "bops") return c.bops;
  if (metric == "memory") return c.weight_bits / 8.0;
  if (metric == "latency") return c.latency_s;
  if (metric == "energy") return c.energy_j;
  return c.bops;
}

const char* cost_unit(const std::string& metric) {
  if (metric == "bops") return "BOPs per sample";
  if (metric == "memory") return "weight memory (bytes)";
  if (metric == "latency") return "latency per sample (s)";
  if (metric == "energy") return "energy per sample (J)";
  return "";
}

Status check_exploration(const Phase1Context& ctx) {
  const ExperimentSpec& x = ctx.spec;
  if (ctx.accelerators.empty())
    return make_error("explore needs at least one accelerator (accelerators: [...] or --hw)");
  if (x.phase2_metric == "accuracy") {
    const std::string data = (x.evaluation.empty() ? x.calibration : x.evaluation).text();
    if (x.evaluation.empty() && ctx.scoring.labels.empty())
      return make_error(
          "phase-2 metric accuracy needs labeled evaluation data (data.evaluation), "
          "and " +
          data + " has no labels");
  }
  if (!x.budgets) return Ok{};
  const std::string acc = budget_accelerator(ctx);
  const AcceleratorView* view = nullptr;
  for (const auto& a : ctx.accelerators)
    if (a.acc.name == acc) view = &a;
  if (!view) return make_error("search.budgets.accelerator: no accelerator named '" + acc + "'");
  // The cheapest configuration: every group at its cheapest supported candidate (exact).
  GroupConfig cheapest = view->priced.baseline;
  for (std::size_t g = 0; g < cheapest.size(); ++g)
    for (int c : view->priced.supported[g]) {
      GroupConfig trial = cheapest;
      trial[g] = c;
      if (cost_of(view->priced.table.total(trial), x.budgets->metric) <
          cost_of(view->priced.table.total(cheapest), x.budgets->metric))
        cheapest = trial;
    }
  const double base = cost_of(view->priced.table.total(view->priced.baseline), x.budgets->metric);
  const double low = cost_of(view->priced.table.total(cheapest), x.budgets->metric);
  for (double f : x.budgets->fractions)
    if (f * base < low)
      return make_error("search.budgets: budget " + std::to_string(f) + " x baseline = " +
                        std::to_string(f * base) + " " + cost_unit(x.budgets->metric) +
                        " is below the cheapest configuration on " + acc + ", which costs " +
                        std::to_string(low) + " (" + std::to_string(low / base) + " x baseline)");
  return Ok{};
}

Result<Exploration> explore(const Phase1Context& ctx, const Phase1Result& phase1, bool progress) {
  if (auto st = check_exploration(ctx); !st) return st.error();
  const ExperimentSpec& x = ctx.spec;
  const TaskIndex tasks = usable_tasks(phase1.list);
  const auto data = evaluation_data(ctx);
  if (!data) return data.error();
  AssignmentEvaluator evaluator(ctx.net, ctx.placement, ctx.stats, ctx.ranges, data->samples,
                                x.batch, data->limit, phase1.rounded.get());
  const bool by_accuracy = x.phase2_metric == "accuracy";
  Exploration out;
  out.score_name = x.phase2_metric;
  // The float model's score and the bound.
  if (auto st = evaluator.prepare_reference(); !st) return st.error();
  out.float_score =
      by_accuracy ? evaluator.float_accuracy() : std::numeric_limits<double>::infinity();
  if (by_accuracy && x.accuracy_drop) out.bound = out.float_score - *x.accuracy_drop;

  std::vector<AcceleratorOptions> setups;
  for (const auto& view : ctx.accelerators) setups.push_back(accelerator_options(view, tasks));
  PointReporter reporter(ctx.placement, setups, evaluator, by_accuracy);
  for (const auto& s : setups) {
    auto ax = explore_accelerator(s, phase1.list, tasks,
                                  settings_for(ctx, phase1, s.view->acc.name, out.bound, progress),
                                  reporter);
    if (!ax) return ax.error();
    add_configs(out, *ax, evaluator);
    out.accelerators.push_back(std::move(ax).value());
  }
  out.evaluations = evaluator.evaluations();
  return out;
}

}  // namespace mpq
