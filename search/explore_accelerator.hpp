#pragma once
// Phase 2 on one accelerator, in stages: the problem and the sorted list from phase 1, the front
// (every point evaluated), the homogeneous reference points, the accuracy-bound searches and the
// budget sweeps. Every point is evaluated through the shared evaluator and priced on every
// accelerator.
#include <optional>
#include <string>
#include <vector>

#include "accelerator_options.hpp"
#include "explorer.hpp"
#include "memoized_evaluator.hpp"

namespace mpq {

// Evaluates configurations of one accelerator's options and prices their formats on all of them.
class PointReporter {
 public:
  PointReporter(const QuantizerPlacement& placement, const std::vector<AcceleratorOptions>& all,
                AssignmentEvaluator& evaluator, bool by_accuracy)
      : placement_(placement), all_(all), evaluator_(evaluator), by_accuracy_(by_accuracy) {}

  // The score phase 2 maximizes (accuracy or SQNR; -inf for a run that broke), or why there is
  // none.
  Evaluation score(const AcceleratorOptions& s, const MpConfig& cfg);
  // The point: its candidates and formats, its evaluated metrics, its cost on every accelerator.
  Result<PointReport> report(const AcceleratorOptions& s, std::string label, const MpConfig& cfg,
                             double predicted_loss);

 private:
  const QuantizerPlacement& placement_;
  const std::vector<AcceleratorOptions>& all_;
  AssignmentEvaluator& evaluator_;
  bool by_accuracy_;
};

struct Phase2Settings {
  SensitivityMetric loss_metric = SensitivityMetric::Sqnr;  // phase 1's, read as each option's loss
  std::string cost_metric;                                  // bops, memory, latency, energy
  std::optional<double> bound;                              // accuracy bound of the searches
  std::vector<std::string> homogeneous;                     // reference candidates, by name
  std::vector<double> budget_fractions;  // empty: no budget sweep on this accelerator
  bool progress = false;
};

Result<AcceleratorExploration> explore_accelerator(const AcceleratorOptions& s,
                                                   const SensitivityList& list,
                                                   const TaskIndex& tasks,
                                                   const Phase2Settings& settings,
                                                   PointReporter& reporter);

}  // namespace mpq
