#pragma once
// An experiment: model, data, accelerators, candidates, phase-1 and phase-2 settings and the
// output directory, read strictly from YAML (schema with a commented example:
// configs/experiments/README.md). Relative paths are relative to the YAML file.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "sim/sample_spec.hpp"

namespace mpq {

struct BudgetSweep {
  std::string metric = "bops";    // bops | memory | latency | energy
  std::string accelerator;        // name of one of the experiment's accelerators ("" = first)
  std::vector<double> fractions;  // of the baseline's cost
};

struct ExperimentSpec {
  std::string source;  // the YAML file
  std::string model;
  std::vector<std::string> input_shapes;
  SampleSpec calibration{"fashion-mnist:train:256", ""};
  SampleSpec sensitivity_data;  // phase-1 scoring samples; empty = the calibration samples
  SampleSpec evaluation;        // phase-2 evaluation samples; empty = none
  std::vector<std::string> accelerators;
  std::vector<std::string> candidates;  // "" = every candidate the hardware supports
  // Phase 1.
  std::string metric = "sqnr";
  std::string mode = "float";  // float | baseline
  std::int64_t samples = 256;
  std::int64_t batch = 64;
  // Range setting.
  std::string act_range = "enhanced", weight_range = "enhanced", bias = "int32";
  double percentile = 99.99;
  bool per_channel = true;
  // Weights: nearest | adaround (the integers of every (weight, format) pair learned once on the
  // float network's layer inputs and cached beside the phase-1 journal).
  std::string weight_rounding = "nearest";
  std::int64_t adaround_iters = 10000;
  // Empirical bias correction per output channel, after the rounding (nearest or AdaRound).
  bool bias_correction = false;
  // Phase 2.
  std::string phase2_metric = "accuracy";  // accuracy | sqnr
  std::optional<double> accuracy_drop = 1.0;
  std::optional<BudgetSweep> budgets;
  std::vector<std::string> homogeneous;  // candidates marked on the plots
  std::string output;
  // NaN or inf in the model's weights or in the data arrays: an error unless allowed.
  bool allow_nonfinite = false;
  // `s` with allow_nonfinite set from the experiment's.
  SampleSpec sample_spec(const SampleSpec& s) const {
    SampleSpec out = s;
    out.allow_nonfinite = allow_nonfinite;
    return out;
  }
};

Result<ExperimentSpec> load_experiment(const std::string& path);

}  // namespace mpq
