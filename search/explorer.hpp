#pragma once
// Phase 2 and the explorer (the main job): from one phase 1, per accelerator the Pareto front of
// the sorted sensitivity list with every point evaluated, the accuracy-bound searches (binary,
// interpolation, brute force, reverse, sensitivity-guided bisection), homogeneous reference
// points, and budget sweeps (exact ILP and greedy); every point priced on every accelerator.
#include <optional>
#include <string>
#include <vector>

#include "config_evaluator.hpp"
#include "mp_problem.hpp"
#include "phase1.hpp"

namespace mpq {

// The cost metric names of the experiment YAML: bops, memory, latency, energy.
double cost_of(const CostMetrics& c, const std::string& metric);
const char* cost_unit(const std::string& metric);

struct PointReport {
  std::string label;
  MpConfig config;                    // option per group of its accelerator
  std::vector<Candidate> candidates;  // candidate per group of its accelerator
  FormatAssignment formats;           // per quantizer
  QuantMetrics metrics;               // evaluated
  double predicted_loss = 0;
  // Exact cost on every accelerator; nullopt where that accelerator cannot run it (its groups
  // would need one format for quantizers this configuration sets differently).
  std::vector<std::optional<CostMetrics>> cost;
};

struct SearchReport {
  std::string method;
  bool met = false;
  std::size_t point = 0;  // into the front it searched
  double score = 0;
  std::size_t evaluations = 0;
  std::optional<PointReport> result;
};

struct BudgetReport {
  double fraction = 0, budget = 0;
  std::optional<PointReport> ilp, greedy;
};

struct AcceleratorExploration {
  std::string name;
  std::vector<std::string> group_names;
  std::vector<std::vector<int>> options;  // per group: candidate indices, [0] = its baseline
  MpProblem problem;                      // loss from phase 1, cost deltas of `cost_metric`
  std::string cost_metric;
  std::vector<PointReport> front;  // forward front, every point evaluated
  std::vector<PointReport> homogeneous;
  std::vector<SearchReport> searches;
  std::optional<PointReport> chosen;  // the cheapest front point meeting the accuracy bound
  std::vector<BudgetReport> budgets;
  std::string note;  // e.g. "no configuration meets the bound: the baseline is returned"
};

struct Exploration {
  std::string score_name;  // "accuracy" or "sqnr"
  double float_score = 0;  // float model's accuracy (or +inf SQNR)
  std::optional<double> bound;
  std::vector<AcceleratorExploration> accelerators;
  std::size_t evaluations = 0;  // distinct configurations evaluated in all
  // The configurations to write (file stem -> configuration in the simulator's JSON format):
  // the chosen point and the budget points of every accelerator.
  std::vector<std::pair<std::string, QuantConfig>> configs;
};

// Checks what can be checked before the expensive work: every budget is feasible (else the error
// says what the cheapest configuration costs), the phase-2 metric has labels if it needs them.
Status check_exploration(const Phase1Context& ctx);

Result<Exploration> explore(const Phase1Context& ctx, const Phase1Result& phase1, bool progress);

}  // namespace mpq
