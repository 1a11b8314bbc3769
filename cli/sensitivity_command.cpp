// `mpq sensitivity`: phase 1, the per-group sensitivity sweep, from an experiment YAML or flags.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "commands.hpp"
#include "common.hpp"
#include "core/output_lock.hpp"
#include "search/number_text.hpp"
#include "search/phase1.hpp"

namespace mpq::cli {
namespace {

// Kendall's tau is undefined when one ranking ties every task (e.g. every task keeps the float
// accuracy on a small sample): said so, never printed as nan.
std::string tau_text(std::optional<double> tau) {
  return tau ? number_text(*tau, "%.3f") : "undefined (one of the rankings ties every task)";
}

nlohmann::json tau_json(std::optional<double> tau) {
  return tau ? nlohmann::json(*tau) : nullptr;
}

struct SensitivityArgs {
  CommonArgs common;
  std::string experiment, model, calib, data, labels, candidates, metric, mode, output,
      compare_calib;
  std::string act_range, weight_range, dump_tasks, weight_rounding;
  std::int64_t adaround_iters = 0;
  bool bias_correction = false;
  std::vector<std::string> hw, input_shapes;
  std::int64_t samples = 0, batch = 0;
  bool no_plots = false, quiet = false, allow_nonfinite = false;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// The experiment from the YAML (if given) with every flag given on top of it.
Result<ExperimentSpec> experiment_of(const SensitivityArgs& a) {
  ExperimentSpec x;
  if (!a.experiment.empty()) {
    auto loaded = load_experiment(a.experiment);
    if (!loaded) return loaded.error();
    x = std::move(loaded).value();
  } else if (a.model.empty()) {
    return make_error("give an experiment YAML or --model (see mpq sensitivity --help)");
  }
  if (!a.model.empty()) x.model = a.model;
  if (!a.input_shapes.empty()) x.input_shapes = a.input_shapes;
  if (!a.calib.empty()) x.calibration = SampleSpec{a.calib, {}};
  if (!a.data.empty()) x.sensitivity_data = SampleSpec{a.data, {}};
  // --labels label the scoring samples: the sensitivity data, else the calibration samples.
  if (!a.labels.empty())
    (x.sensitivity_data.empty() ? x.calibration : x.sensitivity_data).labels = a.labels;
  if (!a.hw.empty()) x.accelerators = a.hw;
  if (!a.candidates.empty()) x.candidates = split_list(a.candidates);
  if (!a.metric.empty()) x.metric = a.metric;
  if (!a.mode.empty()) x.mode = a.mode;
  if (!a.act_range.empty()) x.act_range = a.act_range;
  if (!a.weight_range.empty()) x.weight_range = a.weight_range;
  if (!a.weight_rounding.empty()) x.weight_rounding = a.weight_rounding;
  if (a.adaround_iters != 0) x.adaround_iters = a.adaround_iters;
  if (a.bias_correction) x.bias_correction = true;
  if (a.samples > 0) x.samples = a.samples;
  if (a.batch > 0) x.batch = a.batch;
  if (!a.output.empty()) x.output = a.output;
  if (a.allow_nonfinite) x.allow_nonfinite = true;
  if (x.output.empty())
    x.output = "results/sensitivity/" + std::filesystem::path(x.model).stem().string();
  if (x.mode != "float" && x.mode != "baseline")
    return make_error("--mode must be float or baseline, not '" + x.mode + "'");
  if (!std::filesystem::exists(x.model)) return make_error("model '" + x.model + "' not found");
  return x;
}

// A broken task reads "failed", a lossless one "lossless"; never "inf" or "nan".
std::string sqnr_text(const QuantMetrics& m) {
  if (m.failed()) return "failed";
  if (m.lossless()) return "lossless";
  return number_text(m.sqnr_db, "%.2f", "-");
}

void print_table(const Phase1Context& ctx, const Phase1Result& r) {
  std::printf("%-5s %-44s %-12s %-9s %9s %9s %10s %14s\n", "rank", "group", "candidate", "baseline",
              "SQNR dB", "top-1 %", "agree %", "BOPs saved");
  int rank = 0;
  for (const auto& e : r.list.entries) {
    const SweepGroup& g = ctx.groups[e.result.group];
    std::string name = g.name;
    if (name.size() > 44) name = "..." + name.substr(name.size() - 41);
    const auto& m = e.result.metrics;
    std::printf("%-5d %-44s %-12s %-9s %9s %9s %10s %14.4g\n", ++rank, name.c_str(),
                e.result.candidate.name().c_str(), g.baseline.name().c_str(), sqnr_text(m).c_str(),
                m.accuracy ? number_text(*m.accuracy, "%.2f", "-").c_str() : "-",
                number_text(m.agreement, "%.2f", "-").c_str(), e.bops_reduction);
  }
}

int run_sensitivity(const SensitivityArgs& a) {
  auto spec = experiment_of(a);
  if (!spec) return fail(spec.error());
  auto threads = apply_threads(a.common);
  const bool progress = !a.quiet;
  auto ctx = prepare_phase1(*spec, progress);
  if (!ctx) return fail(ctx.error());
  auto lock = OutputLock::acquire(spec->output);
  if (!lock) return fail(lock.error());
  auto r = run_phase1(**ctx, spec->output, progress);
  if (!r) return fail(r.error());
  if (!r->notice.empty()) std::fprintf(stderr, "mpq: note: %s\n", r->notice.c_str());
  std::optional<double> stability;
  if (!a.compare_calib.empty()) {
    auto tau = calibration_stability(**ctx, r->list, a.compare_calib, r->rounded.get());
    if (!tau) return fail(tau.error());
    stability = *tau;
  }
  const bool labeled = r->labeled;
  if (auto st = write_phase1_outputs(**ctx, *r, spec->output, !a.no_plots); !st)
    return fail(st.error());
  if (!a.dump_tasks.empty())
    if (auto st = write_task_configs(**ctx, a.dump_tasks, r->rounded.get()); !st)
      return fail(st.error());
  std::fprintf(stderr, "phase 1: %lld tasks computed, %lld resumed from the journal, %.2f s\n",
               static_cast<long long>(r->computed), static_cast<long long>(r->resumed), r->seconds);
  print_adaround_summary(*r);
  if (a.common.json) {
    // Only what the inputs determine: identical whatever --threads is.
    nlohmann::json j = sensitivity_json(r->list, (*ctx)->groups);
    // null: the rankings are not comparable (one of them ties every task)
    if (labeled) j["kendall_tau_sqnr_vs_accuracy"] = tau_json(r->tau_sqnr_vs_accuracy);
    if (!a.compare_calib.empty()) j["kendall_tau_calibration_subsets"] = tau_json(stability);
    print_json(j);
    return 0;
  }
  print_table(**ctx, *r);
  for (const auto& e : r->list.entries)
    if (e.result.metrics.failed())
      std::printf("failed: group '%s' at %s: %s\n", (*ctx)->groups[e.result.group].name.c_str(),
                  e.result.candidate.name().c_str(), e.result.metrics.failure.c_str());
  if (labeled)
    std::printf("Kendall tau, SQNR ranking vs accuracy ranking: %s\n",
                tau_text(r->tau_sqnr_vs_accuracy).c_str());
  if (!a.compare_calib.empty())
    std::printf("Kendall tau, %s vs %s rankings (%s): %s\n", spec->calibration.text().c_str(),
                a.compare_calib.c_str(), metric_name(r->list.metric), tau_text(stability).c_str());
  std::printf("wrote %s/sensitivity.{csv,json%s}\n", spec->output.c_str(),
              a.no_plots ? "" : ",png,svg");
  return 0;
}

}  // namespace

void add_sensitivity_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SensitivityArgs>();
  auto* cmd = app.add_subcommand(
      "sensitivity",
      "Phase 1: score every (quantizer group, candidate) with only that group quantized; "
      "cached in OUTPUT/phase1.journal and resumable");
  // A flag given twice takes its last value (scripts append overrides).
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("experiment", args->experiment,
                  "Experiment YAML (configs/experiments/README.md); flags override its values");
  cmd->add_option("--model", args->model, "ONNX model (when no experiment YAML is given)");
  cmd->add_option("--input-shape", args->input_shapes, "NAME:D1xD2... for dynamic inputs")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--calib", args->calib,
                  "Calibration samples (default fashion-mnist:train:256): ranges come from here");
  cmd->add_option("--data", args->data,
                  "Samples to score on (default: the calibration samples); labels give accuracy");
  cmd->add_option("--labels", args->labels,
                  "Labels of the scoring samples (--data, else --calib): an integer .npy [N] for "
                  "an .npy, a file,label CSV for a flat image folder");
  cmd->add_option("--hw", args->hw,
                  "Accelerator YAML (repeatable): groups, candidates and baseline come from the "
                  "first; every one prices the tasks")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--candidates", args->candidates,
                  "Comma-separated candidates, e.g. W8A8,W4A8,W4A4 (default: all the hardware "
                  "supports)");
  cmd->add_option("--metric", args->metric,
                  "Sort by sqnr (default), accuracy, agreement, kl, mse, eagl, fisher "
                  "(first-order Taylor: one forward and one backward pass) or alps (accuracy "
                  "with the group recovered by AdaRound + bias correction; needs labels)");
  cmd->add_option("--mode", args->mode,
                  "Other groups: float (default, as the reference tool) or baseline");
  cmd->add_option("--samples", args->samples, "Samples used (default 256)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch", args->batch, "Batch size (default 64)")->check(CLI::PositiveNumber);
  cmd->add_option("--act-range", args->act_range, "Activation ranges: mse, minmax, percentile");
  cmd->add_option("--weight-range", args->weight_range, "Weight ranges: mse, minmax, percentile");
  cmd->add_option("--weight-rounding", args->weight_rounding,
                  "Integer weights: nearest (default) or adaround (each (weight, format) pair "
                  "learned once on the float network's layer inputs, cached in "
                  "OUTPUT/adaround.journal)");
  cmd->add_flag("--bias-correction", args->bias_correction,
                "Empirical bias correction per output channel after the rounding (cached with "
                "the AdaRound integers)");
  cmd->add_option("--adaround-iters", args->adaround_iters,
                  "AdaRound: Adam iterations per (weight, format) (default 10000)");
  cmd->add_option("-o,--output", args->output,
                  "Results directory (default: the experiment's, else results/sensitivity/MODEL)");
  cmd->add_option("--compare-calib", args->compare_calib,
                  "Also sweep on these calibration samples and print the Kendall tau between "
                  "the two rankings (e.g. fashion-mnist:train:256+256)");
  cmd->add_flag("--no-plots", args->no_plots, "Skip the gnuplot charts");
  cmd->add_flag("--allow-nonfinite", args->allow_nonfinite,
                "Run even when the model's weights or the data arrays hold NaN or inf");
  cmd->add_option("--dump-tasks", args->dump_tasks,
                  "Write every task's quantization configuration to this JSON file (for "
                  "replaying the sweep elsewhere, e.g. bench/phase1_torch.py)");
  cmd->add_flag("--quiet", args->quiet, "No progress on stderr");
  add_common_args(*cmd, args->common);
  cmd->callback([args, &exit_code] { exit_code = run_sensitivity(*args); });
}

}  // namespace mpq::cli
