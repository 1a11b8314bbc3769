#pragma once
// Phase 2's evaluator: turns a per-quantizer format assignment into a calibrated configuration
// and measures it on the evaluation samples against the float model. Shared by every
// accelerator: the cache is keyed by the formats, so a configuration two accelerators reach is
// evaluated once. Quantizer settings (weight ranges above all) are computed once per
// (quantizer, format); the float outputs once per batch.
#include <map>
#include <string>
#include <vector>

#include "rounded_weights.hpp"
#include "sim/calibration.hpp"
#include "sim/quant_metrics.hpp"

namespace mpq {

// A format per quantizer (index into QuantizerPlacement::quantizers); Float32 = unquantized.
using FormatAssignment = std::vector<NumberFormat>;

class AssignmentEvaluator {
 public:
  // `samples` are evaluated in batches of `batch`, the first `limit` of them (all when < 0).
  // With `rounded`, every configuration takes AdaRound's integers for its weights' formats.
  AssignmentEvaluator(const Network& net, const QuantizerPlacement& placement,
                      const ActivationStats& stats, RangeSettings ranges,
                      const SampleSource& samples, std::int64_t batch, std::int64_t limit,
                      const RoundedWeights* rounded = nullptr);

  QuantConfig config_of(const FormatAssignment& formats);
  // Metrics of the assignment; cached.
  Result<QuantMetrics> evaluate(const FormatAssignment& formats);
  std::size_t evaluations() const { return cache_.size(); }
  // Runs the float model over the evaluation samples once (later calls do nothing): the
  // reference outputs every evaluation compares with, and float_accuracy().
  Status prepare_reference();
  // Accuracy of the float model on the evaluation samples (NaN when unlabeled); valid after
  // prepare_reference() or the first evaluate().
  double float_accuracy() const { return float_accuracy_; }
  bool labeled() const { return !samples_.labels.empty(); }

 private:
  const Network& net_;
  const QuantizerPlacement& placement_;
  const ActivationStats& stats_;
  RangeSettings ranges_;
  const SampleSource& samples_;
  std::int64_t batch_, count_;
  const RoundedWeights* rounded_;
  std::vector<Tensor> inputs_, reference_;
  double float_accuracy_ = 0;
  std::map<std::pair<std::size_t, std::string>, QuantizerSetting> settings_;
  std::map<std::string, QuantMetrics> cache_;
};

std::string assignment_key(const FormatAssignment& formats);

}  // namespace mpq
