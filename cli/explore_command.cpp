// `mpq explore`: the main job. Phase 1 (cached), then per accelerator the Pareto front, the
// accuracy-bound searches, budget sweeps and co-design plots, all into one results directory.
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "common.hpp"
#include "core/output_lock.hpp"
#include "search/explore_report.hpp"
#include "sim/qdq/qdq_export.hpp"

namespace mpq::cli {
namespace {

struct ExploreArgs {
  CommonArgs common;
  std::string experiment, output, weight_rounding;
  std::int64_t adaround_iters = 0;
  bool bias_correction = false;
  bool no_plots = false, quiet = false, export_models = false, allow_nonfinite = false;
  int opset = kDefaultExportOpset;
};

// Every chosen configuration as a QDQ model with its encodings, in DIR/export/.
Status export_configs(const Phase1Context& ctx, const Exploration& x, const std::string& dir,
                      int opset) {
  std::error_code ec;
  std::filesystem::create_directories(dir + "/export", ec);
  if (ec) return make_error("cannot create '" + dir + "/export': " + ec.message());
  for (const auto& [stem, cfg] : x.configs) {
    QdqExportOptions opts;
    opts.opset = opset;
    opts.config_source = dir + "/configs/" + stem + ".json";
    auto e = export_qdq(ctx.net, cfg, opts);
    if (!e) return make_error(stem + ": " + e.error().message);
    const std::string base = dir + "/export/" + stem;
    if (auto st = write_qdq_export(*e, base + ".qdq.onnx", base + ".encodings.json"); !st)
      return st;
  }
  return Ok{};
}

int run_explore(const ExploreArgs& a) {
  auto spec = load_experiment(a.experiment);
  if (!spec) return fail(spec.error());
  if (!a.output.empty()) spec->output = a.output;
  if (!a.weight_rounding.empty()) spec->weight_rounding = a.weight_rounding;
  if (a.adaround_iters != 0) spec->adaround_iters = a.adaround_iters;
  if (a.allow_nonfinite) spec->allow_nonfinite = true;
  if (a.bias_correction) spec->bias_correction = true;
  if (spec->output.empty())
    spec->output = "results/explore/" + std::filesystem::path(spec->model).stem().string();
  auto threads = apply_threads(a.common);
  const bool progress = !a.quiet;
  // Everything that can be wrong with the input is found before the results directory is
  // touched.
  auto ctx = prepare_phase1(*spec, progress);
  if (!ctx) return fail(ctx.error());
  if (auto st = check_exploration(**ctx); !st) return fail(st.error());
  auto lock = OutputLock::acquire(spec->output);
  if (!lock) return fail(lock.error());
  auto p1 = run_phase1(**ctx, spec->output, progress);
  if (!p1) return fail(p1.error());
  if (!p1->notice.empty()) std::fprintf(stderr, "mpq: note: %s\n", p1->notice.c_str());
  std::fprintf(stderr, "phase 1: %lld tasks computed, %lld resumed from the journal, %.2f s\n",
               static_cast<long long>(p1->computed), static_cast<long long>(p1->resumed),
               p1->seconds);
  print_adaround_summary(*p1);
  if (auto st = write_phase1_outputs(**ctx, *p1, spec->output, !a.no_plots); !st)
    return fail(st.error());
  auto x = explore(**ctx, *p1, progress);
  if (!x) return fail(x.error());
  ExploreOutputs out;
  out.dir = spec->output;
  out.plots = !a.no_plots;
  out.command = "mpq explore " + a.experiment + " --output " + spec->output;
  if (a.no_plots) out.command += " --no-plots";
  if (a.export_models) {
    out.command += " --export";
    if (auto st = export_configs(**ctx, *x, spec->output, a.opset); !st) return fail(st.error());
  }
  if (auto st = write_exploration(**ctx, *p1, *x, out); !st) return fail(st.error());
  if (a.common.json) {
    print_json(exploration_json(**ctx, *x));
    return 0;
  }
  std::printf("%s: float %s %.2f", spec->model.c_str(), x->score_name.c_str(), x->float_score);
  if (x->bound) std::printf(", bound %.2f", *x->bound);
  std::printf(", %zu configurations evaluated\n", x->evaluations);
  for (const auto& ax : x->accelerators) {
    std::printf("\n%s: front of %zu points\n", ax.name.c_str(), ax.front.size());
    for (const auto& s : ax.searches)
      std::printf("  %-40s %s, %zu evaluations, %s %.2f\n", s.method.c_str(),
                  s.met ? "meets the bound" : "no point meets the bound", s.evaluations,
                  x->score_name.c_str(),
                  x->score_name == "accuracy" ? s.result->metrics.accuracy.value_or(0)
                                              : s.result->metrics.sqnr_db);
    if (!ax.note.empty()) std::printf("  note: %s\n", ax.note.c_str());
    for (const auto& b : ax.budgets)
      std::printf("  budget %.3g x baseline %s: ILP %s %.2f, greedy %.2f\n", b.fraction,
                  ax.cost_metric.c_str(), x->score_name.c_str(),
                  x->score_name == "accuracy" ? b.ilp->metrics.accuracy.value_or(0)
                                              : b.ilp->metrics.sqnr_db,
                  x->score_name == "accuracy" ? b.greedy->metrics.accuracy.value_or(0)
                                              : b.greedy->metrics.sqnr_db);
  }
  std::printf("\nwrote %s/report.md\n", spec->output.c_str());
  return 0;
}

}  // namespace

void add_explore_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ExploreArgs>();
  auto* cmd = app.add_subcommand(
      "explore",
      "The main job: phase 1, then per accelerator the mixed-precision Pareto front, "
      "accuracy-bound and budget searches, co-design plots and a report");
  cmd->add_option("experiment", args->experiment,
                  "Experiment YAML (commented example: configs/experiments/default.yaml)")
      ->required();
  cmd->add_option("-o,--output", args->output, "Results directory (overrides the YAML's output)");
  cmd->add_option("--weight-rounding", args->weight_rounding,
                  "Integer weights: nearest or adaround (overrides ranges.weight_rounding)");
  cmd->add_flag("--bias-correction", args->bias_correction,
                "Empirical bias correction per output channel (overrides "
                "ranges.bias_correction)");
  cmd->add_option("--adaround-iters", args->adaround_iters,
                  "AdaRound: Adam iterations per (weight, format) (overrides "
                  "ranges.adaround_iters)");
  cmd->add_flag("--no-plots", args->no_plots, "Skip the gnuplot charts");
  cmd->add_flag("--quiet", args->quiet, "No progress on stderr");
  cmd->add_flag("--allow-nonfinite", args->allow_nonfinite,
                "Run even when the model's weights or the data arrays hold NaN or inf");
  cmd->add_flag("--export", args->export_models,
                "Also export every chosen configuration as an ONNX QDQ model with its encodings "
                "(OUTPUT/export/*.qdq.onnx, *.encodings.json), as `mpq export` does");
  cmd->add_option("--opset", args->opset, "Opset of the exported models (13-21)")
      ->capture_default_str();
  add_common_args(*cmd, args->common);
  cmd->callback([args, &exit_code] { exit_code = run_explore(*args); });
}

}  // namespace mpq::cli
