#pragma once
// The sorted sensitivity list of phase 1: every (group, candidate) task, most robust first
// (by the chosen metric), ties broken by the larger cost reduction, then by group and name so
// the order is total.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "sensitivity_sweep.hpp"

namespace mpq {

// Alps (Bablani et al.; ours: recovery = bias correction + AdaRound on the lowered group): the
// task's accuracy with its group's weights AdaRounded and bias-corrected.
enum class SensitivityMetric : std::uint8_t {
  Sqnr,
  Accuracy,
  Agreement,
  Kl,
  Mse,
  Eagl,
  Fisher,
  Alps
};
Result<SensitivityMetric> parse_sensitivity_metric(const std::string& text);
const char* metric_name(SensitivityMetric m);
bool needs_labels(SensitivityMetric m);

// Larger is more robust (KL and MSE are negated).
double robustness(const TaskResult& r, SensitivityMetric m);

struct SensitivityEntry {
  TaskResult result;
  double score = 0;           // robustness() under the list's metric
  double bops_reduction = 0;  // MACs x (bits_w x bits_a at the baseline - at the candidate)
  std::vector<double> latency_reduction_s, energy_reduction_j;  // per accelerator
};

struct SensitivityList {
  SensitivityMetric metric = SensitivityMetric::Sqnr;
  std::vector<std::string> accelerators;
  std::vector<SensitivityEntry> entries;
};

// BOPs saved per sample when group g goes from its baseline to `c` (float formats count as
// bits x sqrt(1.5), ALGORITHMS.md).
double bops_reduction(const Network& net, const QuantizerPlacement& p, const SweepGroup& g,
                      const Candidate& c);

void sort_sensitivity(SensitivityList& list);

std::string sensitivity_csv(const SensitivityList& list, const std::vector<SweepGroup>& groups);
nlohmann::json sensitivity_json(const SensitivityList& list, const std::vector<SweepGroup>& groups);

}  // namespace mpq
