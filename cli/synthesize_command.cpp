// `mpq synthesize`: labeled inputs made from noise by gradient descent on the input of the float
// model (sim/input_synthesis.hpp), written as an .npy array and its labels beside it.
#include <chrono>
#include <cstdio>
#include <optional>

#include "commands.hpp"
#include "common.hpp"
#include "search/progress_meter.hpp"
#include "sim/input_synthesis.hpp"
#include "sim/npy.hpp"
#include "sim/synthetic_files.hpp"

namespace mpq::cli {
namespace {

struct SynthesizeArgs {
  ModelArgs model;
  CommonArgs common;
  std::string output, method = "lee";
  SynthesisSettings settings;
  std::optional<double> tv_weight;
  bool quiet = false;
};

int run_synthesize(SynthesizeArgs& a) {
  auto method = parse_synthesis_method(a.method);
  if (!method) return fail(method.error());
  SynthesisSettings s = a.settings;
  s.method = *method;
  s.tv_weight = a.tv_weight.value_or(default_tv_weight(s.method));
  auto labels_path = labels_path_for(a.output);
  if (!labels_path) return fail(labels_path.error());
  auto threads = apply_threads(a.common);
  std::vector<BatchNormTarget> targets;
  auto net = s.method == SynthesisMethod::ZeroQ
                 ? load_network_with_batchnorm(a.model.model, a.model.input_shapes,
                                               a.model.allow_nonfinite, targets)
                 : load_network(a.model);
  if (!net) return fail(net.error());
  if (auto st = check_synthesis(*net, s); !st) return fail(st.error());
  if (auto st = check_writable(a.output); !st) return fail(st.error());
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<ProgressMeter> meter;
  auto set = synthesize_inputs(*net, s, targets, [&](std::int64_t done, std::int64_t total) {
    if (!meter) meter.emplace("synthesizing (Adam steps)", total, !a.quiet && !a.common.json);
    meter->update(done);
  });
  if (meter) meter->finish();
  if (!set) return fail(set.error());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (auto st = write_synthetic_set(a.output, *labels_path, *set); !st) return fail(st.error());
  const double on_target =
      100.0 * static_cast<double>(set->on_target) / static_cast<double>(s.count());
  if (a.common.json) {
    print_json({{"model", a.model.model},
                {"method", synthesis_method_name(s.method)},
                {"samples", s.count()},
                {"classes", s.classes},
                {"per_class", s.per_class},
                {"seed", s.seed},
                {"iterations", s.iterations},
                {"learning_rate", s.learning_rate},
                {"tv_weight", s.tv_weight},
                {"batch", s.batch},
                {"on_target_percent", on_target},
                {"mean_target_probability", set->mean_target_probability},
                {"seconds", secs},
                {"inputs", a.output},
                {"labels", *labels_path}});
  } else {
    std::printf(
        "%lld samples (%s, %lld classes x %lld) in %.1f s: the float model assigns %.1f%% their "
        "label (mean probability %.3f)\nwrote %s and %s\n",
        static_cast<long long>(s.count()), synthesis_method_name(s.method),
        static_cast<long long>(s.classes), static_cast<long long>(s.per_class), secs, on_target,
        set->mean_target_probability, a.output.c_str(), labels_path->c_str());
  }
  return 0;
}

}  // namespace

void add_synthesize_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<SynthesizeArgs>();
  auto* cmd = app.add_subcommand(
      "synthesize",
      "Data-free inputs: labeled samples made from noise by gradient descent on the float model's "
      "input (Lee et al.: cross-entropy to a target class + total variation; or ZeroQ: "
      "BatchNorm statistics matching), for phase 1 with no data");
  add_model_args(*cmd, args->model);
  add_common_args(*cmd, args->common);
  SynthesisSettings& s = args->settings;
  cmd->add_option("--classes", s.classes, "Target classes 0..N-1 (at most the output's width)")
      ->required();
  cmd->add_option("--per-class", s.per_class, "Samples per class (sample k has label k mod N)")
      ->required();
  cmd->add_option("--seed", s.seed, "Seed of the starting noise")->capture_default_str();
  cmd->add_option("-o,--output", args->output,
                  "Output .npy [N, sample shape]; the labels go to the same name with "
                  ".labels.npy")
      ->required();
  cmd->add_option("--method", args->method,
                  "lee (cross-entropy + total variation, no BatchNorm statistics) or zeroq "
                  "(BatchNorm statistics of the ONNX file matched; labels = the model's "
                  "predictions)")
      ->capture_default_str();
  cmd->add_option("--iterations", s.iterations, "Adam steps per batch")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--lr", s.learning_rate, "Adam learning rate (in the model's input units)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--tv-weight", args->tv_weight,
                  "Weight of the total-variation prior (default 0.5 for lee, 0 for zeroq)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", s.batch,
                  "Samples optimized together (ZeroQ's statistics are the "
                  "batch's)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "No progress on stderr");
  cmd->callback([args, &exit_code] { exit_code = run_synthesize(*args); });
}

}  // namespace mpq::cli
