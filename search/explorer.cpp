#include "explorer.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>

#include "budget_ilp.hpp"
#include "front_search.hpp"
#include "greedy_budget.hpp"
#include "memoized_evaluator.hpp"
#include "progress_meter.hpp"
#include "sensitivity_bisection.hpp"
#include "sensitivity_front.hpp"

namespace mpq {
namespace {

// One accelerator as phase 2 sees it.
struct AccSetup {
  const AcceleratorView* view = nullptr;
  std::vector<Candidate> cands;           // the accelerator's candidates as formats
  std::vector<std::vector<int>> options;  // per group: candidate indices, [0] = baseline
  std::map<std::size_t, std::size_t> group_of_union;
};

const ExperimentSpec& spec_of(const Phase1Context& c) {
  return c.spec;
}

std::string budget_accelerator(const Phase1Context& ctx) {
  const auto& b = spec_of(ctx).budgets;
  if (!b || b->accelerator.empty()) return ctx.accelerators.front().acc.name;
  return b->accelerator;
}

std::string problem_metric(const Phase1Context& ctx) {
  return spec_of(ctx).budgets ? spec_of(ctx).budgets->metric : "bops";
}

double loss_of(const TaskResult& r, SensitivityMetric m, const Candidate& c) {
  switch (m) {
    case SensitivityMetric::Sqnr:
      // Output noise power relative to the signal: adds up over groups quantized together.
      return std::isinf(r.metrics.sqnr_db) ? 0.0 : std::pow(10.0, -r.metrics.sqnr_db / 10.0);
    case SensitivityMetric::Accuracy:
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
  }
  return 0;
}

Result<AccSetup> setup_accelerator(
    const AcceleratorView& view,
    const std::map<std::pair<std::size_t, Candidate>, const TaskResult*>& tasks) {
  AccSetup s;
  s.view = &view;
  s.cands = view.acc.candidates;
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

FormatAssignment assignment_of(const Phase1Context& ctx, const AccSetup& s, const MpConfig& cfg) {
  FormatAssignment f(ctx.placement.quantizers.size(), NumberFormat{});
  const auto& groups = s.view->priced.groups.groups;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const Candidate& c =
        s.cands[static_cast<std::size_t>(s.options[g][static_cast<std::size_t>(cfg[g])])];
    for (std::size_t q : groups[g].quantizers)
      f[q] = ctx.placement.quantizers[q].kind == QuantizerKind::Weight ? c.weight : c.activation;
  }
  return f;
}

// The accelerator's configuration that gives these formats, if its groups allow it.
std::optional<GroupConfig> config_on(const Phase1Context& ctx, const AccSetup& s,
                                     const FormatAssignment& f) {
  const auto& groups = s.view->priced.groups.groups;
  GroupConfig out;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::optional<NumberFormat> w, a;
    for (std::size_t q : groups[g].quantizers) {
      auto& slot = ctx.placement.quantizers[q].kind == QuantizerKind::Weight ? w : a;
      if (slot && !(*slot == f[q])) return std::nullopt;  // the group would need two formats
      slot = f[q];
    }
    int found = -1;
    for (int c : s.view->priced.supported[g]) {
      const Candidate& cand = s.cands[static_cast<std::size_t>(c)];
      if ((!w || cand.weight == *w) && (!a || cand.activation == *a)) {
        found = c;
        break;
      }
    }
    if (found < 0) return std::nullopt;
    out.push_back(found);
  }
  return out;
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
  const ExperimentSpec& x = spec_of(ctx);
  if (ctx.accelerators.empty())
    return make_error("explore needs at least one accelerator (accelerators: [...] or --hw)");
  if (x.phase2_metric == "accuracy") {
    const std::string data = x.evaluation.empty() ? x.calibration : x.evaluation;
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
  const ExperimentSpec& x = spec_of(ctx);
  std::map<std::pair<std::size_t, Candidate>, const TaskResult*> tasks;
  // A failed task (its run broke) is no option: no front, search or budget point uses it.
  for (const auto& e : phase1.list.entries)
    if (!e.result.metrics.failed()) tasks[{e.result.group, e.result.candidate}] = &e.result;

  SampleSource eval_samples = ctx.scoring;
  std::int64_t eval_limit = x.samples;
  if (!x.evaluation.empty()) {
    auto s = open_samples(x.evaluation, ctx.net);
    if (!s) return make_error("evaluation data: " + s.error().message);
    if (auto b = batch_size_for(ctx.net, x.batch, s->count, s->description); !b)
      return make_error("evaluation data: " + b.error().message);
    eval_samples = std::move(s).value();
    eval_limit = -1;
  }
  AssignmentEvaluator evaluator(ctx.net, ctx.placement, ctx.stats, ctx.ranges, eval_samples,
                                x.batch, eval_limit);
  const bool by_accuracy = x.phase2_metric == "accuracy";
  Exploration out;
  out.score_name = x.phase2_metric;

  std::vector<AccSetup> setups;
  for (const auto& view : ctx.accelerators) {
    auto s = setup_accelerator(view, tasks);
    if (!s) return s.error();
    setups.push_back(std::move(s).value());
  }
  std::string eval_error;
  const auto evaluate = [&](const FormatAssignment& f) -> QuantMetrics {
    auto m = evaluator.evaluate(f);
    if (!m) {
      if (eval_error.empty()) eval_error = m.error().message;
      return {};
    }
    return *m;
  };
  const auto score = [&](const QuantMetrics& m) {
    if (m.failed()) return -std::numeric_limits<double>::infinity();
    return by_accuracy ? m.accuracy.value_or(0.0) : m.sqnr_db;
  };
  const auto report_point = [&](const AccSetup& s, const std::string& label, const MpConfig& cfg,
                                double loss) {
    PointReport p;
    p.label = label;
    p.config = cfg;
    p.formats = assignment_of(ctx, s, cfg);
    for (std::size_t g = 0; g < cfg.size(); ++g)
      p.candidates.push_back(
          s.cands[static_cast<std::size_t>(s.options[g][static_cast<std::size_t>(cfg[g])])]);
    p.metrics = evaluate(p.formats);
    p.predicted_loss = loss;
    for (const auto& other : setups) {
      auto gc = config_on(ctx, other, p.formats);
      if (gc)
        p.cost.emplace_back(other.view->priced.table.total(*gc));
      else
        p.cost.emplace_back(std::nullopt);
    }
    return p;
  };

  // The float model's score and the bound.
  if (auto st = evaluator.prepare_reference(); !st) return st.error();
  out.float_score =
      by_accuracy ? evaluator.float_accuracy() : std::numeric_limits<double>::infinity();
  if (by_accuracy && x.accuracy_drop) out.bound = out.float_score - *x.accuracy_drop;

  for (std::size_t ai = 0; ai < setups.size(); ++ai) {
    const AccSetup& s = setups[ai];
    const AcceleratorView& view = *s.view;
    AcceleratorExploration ax;
    ax.name = view.acc.name;
    ax.options = s.options;
    ax.cost_metric = problem_metric(ctx);
    for (const auto& g : view.priced.groups.groups) ax.group_names.push_back(g.name);
    // The problem: per group and option, the phase-1 loss and the exact cost delta.
    const CostMetrics base_cost = view.priced.table.total(view.priced.baseline);
    ax.problem.base_cost = cost_of(base_cost, ax.cost_metric);
    for (std::size_t g = 0; g < s.options.size(); ++g) {
      std::vector<MpOption> opts;
      for (std::size_t o = 0; o < s.options[g].size(); ++o) {
        MpOption op;
        if (o > 0) {
          const int c = s.options[g][o];
          const TaskResult* r =
              tasks.at({view.group_map[g], view.acc.candidates[static_cast<std::size_t>(c)]});
          op.loss = loss_of(*r, phase1.list.metric, s.cands[static_cast<std::size_t>(c)]);
          op.cost_delta =
              cost_of(view.priced.table.delta(view.priced.baseline, g, c), ax.cost_metric);
        }
        opts.push_back(op);
      }
      ax.problem.groups.push_back(std::move(opts));
    }
    // The sorted list, restricted to this accelerator's groups and options.
    std::vector<OptionChange> list;
    for (const auto& e : phase1.list.entries) {
      auto g = s.group_of_union.find(e.result.group);
      if (g == s.group_of_union.end()) continue;
      const auto& opts = s.options[g->second];
      for (std::size_t o = 1; o < opts.size(); ++o)
        if (view.acc.candidates[static_cast<std::size_t>(opts[o])] == e.result.candidate)
          list.push_back({static_cast<int>(g->second), static_cast<int>(o)});
    }
    auto front = sensitivity_front(ax.problem, list);
    if (!front) return front.error();
    ProgressMeter meter("phase 2 (" + ax.name + "): front points",
                        static_cast<std::int64_t>(front->points.size()), progress);
    for (std::size_t k = 0; k < front->points.size(); ++k) {
      const std::string label =
          k == 0 ? "baseline (" +
                       view.acc
                           .candidates[static_cast<std::size_t>(
                               view.priced.baseline.empty() ? 0 : view.priced.baseline[0])]
                           .name() +
                       ")"
                 : "front " + std::to_string(k);
      ax.front.push_back(report_point(s, label, front_config(*front, k), front->points[k].loss));
      meter.update(static_cast<std::int64_t>(k + 1));
    }
    meter.finish();
    if (!eval_error.empty()) return make_error(eval_error);
    for (const auto& h : x.homogeneous) {
      auto hc = parse_candidate(h);
      if (!hc) return make_error("search.homogeneous: " + hc.error().message);
      MpConfig cfg(s.options.size(), 0);
      int kept = 0;
      for (std::size_t g = 0; g < s.options.size(); ++g) {
        bool found = s.cands[static_cast<std::size_t>(s.options[g][0])] == *hc;
        for (std::size_t o = 1; o < s.options[g].size() && !found; ++o)
          if (s.cands[static_cast<std::size_t>(s.options[g][o])] == *hc) {
            cfg[g] = static_cast<int>(o);
            found = true;
          }
        kept += !found;
      }
      // A candidate the accelerator runs nowhere is no reference point on it.
      if (kept == static_cast<int>(s.options.size())) continue;
      std::string label = hc->name();
      if (kept) label += " (" + std::to_string(kept) + " groups at baseline: unsupported)";
      ax.homogeneous.push_back(report_point(s, label, cfg, config_loss(ax.problem, cfg)));
    }
    // Accuracy-bound searches over the front; each counts the evaluations it needs on its own.
    if (out.bound) {
      const double bound = *out.bound;
      // The evaluator says why a configuration could not be evaluated; the search passes it on.
      const auto score_config = [&](const MpConfig& c) {
        auto m = evaluator.evaluate(assignment_of(ctx, s, c));
        return m ? Evaluation::of(score(*m)) : Evaluation::failed(m.error().message);
      };
      auto run = [&](const std::string& method, auto&& search,
                     const MpFront& f) -> Result<SearchReport> {
        MemoizedEvaluator me(score_config);
        auto r = search(f, me, bound);
        if (!r) return r.error();
        SearchReport rep{method, r->met, r->point, r->accuracy, r->evaluations, std::nullopt};
        rep.result = report_point(s, method, front_config(f, r->point), f.points[r->point].loss);
        ax.searches.push_back(rep);
        return rep;
      };
      if (auto r = run("binary search", binary_search_front, *front); !r) return r.error();
      if (auto r = run("interpolation search", interpolation_search_front, *front); !r)
        return r.error();
      // The chosen point is the brute force's: the cheapest front point within the bound.
      const auto brute = run("brute force", brute_force_front, *front);
      if (!brute) return brute.error();
      auto reverse = reverse_sensitivity_front(ax.problem, list);
      if (!reverse) return reverse.error();
      if (auto r = run("reverse (from the lowest candidates up)", first_meeting_front, *reverse);
          !r)
        return r.error();
      // Schaefer et al.: lower each group to its cheapest option, least sensitive first.
      std::vector<Lowering> lowerings;
      for (std::size_t g = 0; g < ax.problem.groups.size(); ++g) {
        const auto& opts = ax.problem.groups[g];
        if (opts.size() < 2) continue;
        std::size_t best = 1;
        for (std::size_t o = 2; o < opts.size(); ++o)
          if (opts[o].cost_delta < opts[best].cost_delta) best = o;
        lowerings.push_back({static_cast<int>(g), static_cast<int>(best), opts[best].loss});
      }
      MemoizedEvaluator me(score_config);
      auto bis = sensitivity_bisection(ax.problem, lowerings, me, bound);
      if (!bis) return bis.error();
      SearchReport rep{"sensitivity-guided bisection",
                       bis->met,
                       bis->lowered,
                       bis->accuracy,
                       bis->evaluations,
                       std::nullopt};
      rep.result = report_point(s, rep.method, bis->config, config_loss(ax.problem, bis->config));
      ax.searches.push_back(std::move(rep));
      ax.chosen = brute->result;
      ax.chosen->label = "chosen (cheapest front point within the bound)";
      if (!brute->met)
        ax.note = "no configuration on the front meets the bound " + std::to_string(bound) +
                  ": the baseline is returned";
    }
    if (x.budgets && budget_accelerator(ctx) == ax.name) {
      for (double f : x.budgets->fractions) {
        BudgetReport b;
        b.fraction = f;
        b.budget = f * ax.problem.base_cost;
        auto ilp = solve_budget_ilp(ax.problem, b.budget);
        if (!ilp) return make_error("budget " + std::to_string(f) + ": " + ilp.error().message);
        b.ilp = report_point(s, "ILP budget " + std::to_string(f), ilp->config, ilp->loss);
        auto greedy = greedy_budget(ax.problem, b.budget);
        if (!greedy)
          return make_error("budget " + std::to_string(f) + ": " + greedy.error().message);
        b.greedy =
            report_point(s, "greedy budget " + std::to_string(f), greedy->config, greedy->loss);
        ax.budgets.push_back(std::move(b));
      }
    }
    if (!eval_error.empty()) return make_error(eval_error);
    const auto stem = [&](std::string t) {
      for (char& ch : t)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-') ch = '_';
      return ax.name + "_" + t;
    };
    if (ax.chosen)
      out.configs.emplace_back(stem("chosen"), evaluator.config_of(ax.chosen->formats));
    for (const auto& b : ax.budgets) {
      char f[32];
      std::snprintf(f, sizeof f, "%g", b.fraction);
      out.configs.emplace_back(stem(std::string("budget_") + f + "_ilp"),
                               evaluator.config_of(b.ilp->formats));
      out.configs.emplace_back(stem(std::string("budget_") + f + "_greedy"),
                               evaluator.config_of(b.greedy->formats));
    }
    out.accelerators.push_back(std::move(ax));
  }
  out.evaluations = evaluator.evaluations();
  return out;
}

}  // namespace mpq
