#pragma once
// Phase 1 end to end, shared by `mpq sensitivity` and `mpq explore`: load the model and the
// accelerators, set up the groups and candidates, calibrate, run the sweep with its journal,
// and produce the sorted sensitivity list with each task's cost reduction on every accelerator.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "experiment.hpp"
#include "hw/accelerator.hpp"
#include "priced_network.hpp"
#include "rounded_weights.hpp"
#include "sensitivity_list.hpp"
#include "sensitivity_sweep.hpp"

namespace mpq {

struct AcceleratorView {
  hw::Accelerator acc;
  PricedNetwork priced;
  std::vector<std::size_t> group_map;  // its group index -> index into Phase1Context::groups
};

// Everything phase 1 and phase 2 read. Not copyable: SampleSources hold shared data and the
// sweep points into `net`.
struct Phase1Context {
  ExperimentSpec spec;
  Network net;
  QuantizerPlacement placement;
  std::vector<AcceleratorView> accelerators;
  // The union of the accelerators' groups (or the basic groups without accelerators); a
  // group's baseline is the first accelerator's.
  std::vector<SweepGroup> groups;
  RangeSettings ranges;
  SweepMode mode = SweepMode::OthersFloat;
  SensitivityMetric metric = SensitivityMetric::Sqnr;
  SampleSource calibration, scoring;
  ActivationStats stats;
};

Result<RangeSettings> range_settings_of(const ExperimentSpec& spec);

// Loads and calibrates; `progress` shows the calibration passes.
Result<std::unique_ptr<Phase1Context>> prepare_phase1(const ExperimentSpec& spec, bool progress);

struct Phase1Result {
  SensitivityList list;
  std::int64_t resumed = 0, computed = 0;
  // Kendall tau over the tasks that did not fail, computed when the scoring data is labeled;
  // nullopt there when one ranking ties every task (undefined).
  bool labeled = false;
  std::optional<double> tau_sqnr_vs_accuracy;
  double seconds = 0;
  std::string notice;  // e.g. why cached results were set aside
  // With ranges.weight_rounding adaround: the integers every task used, for phase 2 too.
  std::shared_ptr<const RoundedWeights> rounded;
  std::int64_t adaround_reused = 0, adaround_computed = 0;  // (weight, format) pairs
  std::vector<std::string> adaround_skipped;
};

// Runs the sweep (resuming from `out_dir`/phase1.journal) and sorts the list.
Result<Phase1Result> run_phase1(const Phase1Context& ctx, const std::string& out_dir,
                                bool progress);

// The same sweep on other calibration samples, without a journal: Kendall tau between its
// ranking and `list`'s, by the list's metric.
// AdaRound's integers (`rounded`, null: nearest) stay those learned on the main calibration.
Result<std::optional<double>> calibration_stability(const Phase1Context& ctx,
                                                    const SensitivityList& list,
                                                    const std::string& other_calibration,
                                                    const RoundedWeights* rounded = nullptr);

// Every task's configuration (the simulator's JSON format) keyed "group id|candidate", so that
// another implementation can replay the sweep with the same ranges. OthersFloat mode only.
Status write_task_configs(const Phase1Context& ctx, const std::string& path,
                          const RoundedWeights* rounded = nullptr);

// sensitivity.csv, sensitivity.json and the chart sensitivity.{png,svg} in `out_dir`.
Status write_phase1_outputs(const Phase1Context& ctx, const Phase1Result& r,
                            const std::string& out_dir, bool plots);

}  // namespace mpq
