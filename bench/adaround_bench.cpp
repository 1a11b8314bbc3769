// AdaRound of one layer, or of every layer, of a model at one candidate, timed: what
// bench/adaround_vs_torch.py compares with its PyTorch reference, and the per-model figure of
// bench/README.md. The layer's inputs are the float network's (as in phase 1 and 2), summed
// into moments in one pass over the calibration samples, then each weight is rounded.
//
//   mpq_bench_adaround --model M.onnx [--candidate W4A8] [--calib fashion-mnist:train:256]
//                      [--layer WEIGHT | all] [--iters 10000] [--threads 2] [--batch 32]
//                      [--dump DIR]
//
// Prints one JSON object: per layer its rows, fan_in, calibration vectors, the output error
// (mean squared per input vector, summed over output channels) at nearest and after AdaRound,
// and the seconds of the moments pass and of the rounding. --dump DIR writes, per layer,
// DIR/<weight>.json with the quantizer's scale, zero point and grid and the learned integers in
// the weight's element order, for the reference to evaluate on its own inputs.
#include <tbb/global_control.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "core/guarded_main.hpp"
#include "graph/onnx_import.hpp"
#include "sim/adaround_layers.hpp"
#include "sim/calibration.hpp"
#include "sim/prepare.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds of the process, all threads (the machine is shared: wall clock alone says little).
double cpu_seconds() {
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
}

struct Args {
  std::string model, candidate = "W4A8", calib = "fashion-mnist:train:256", layer = "all", dump;
  std::int64_t iters = 10000, batch = 32;
  int threads = 2;
};

nlohmann::json dump_of(const mpq::QuantizerSetting& s) {
  return {{"scale", s.params.scale},
          {"zero_point", s.params.zero_point},
          {"qmin", s.params.qmin},
          {"qmax", s.params.qmax},
          {"integers", s.integer_weights}};
}

int bench(const Args& a) {
  auto model = mpq::load_onnx(a.model);
  if (!model) return std::cerr << model.error().message << '\n', 2;
  auto net = mpq::prepare_network(std::move(model).value());
  if (!net) return std::cerr << net.error().message << '\n', 2;
  const auto placement = mpq::place_quantizers(*net);
  auto calib = mpq::open_samples(a.calib, *net);
  auto cand = mpq::parse_candidate(a.candidate);
  if (!calib || !cand) return std::cerr << "cannot open the calibration data or candidate\n", 2;
  auto stats = mpq::collect_activation_stats(*net, placement, *calib, a.batch);
  if (!stats) return std::cerr << stats.error().message << '\n', 2;
  auto cfg =
      mpq::calibrate_config(*net, placement, mpq::uniform_formats(placement, *cand), *stats, {});
  if (!cfg) return std::cerr << cfg.error().message << '\n', 2;
  std::vector<std::string> skipped;
  auto all = mpq::adaround_targets(*net, placement, *cfg, &skipped);
  if (!all) return std::cerr << all.error().message << '\n', 2;
  std::vector<const mpq::Quantizer*> targets;
  for (const mpq::Quantizer* q : *all)
    if (a.layer == "all" || q->name == a.layer) targets.push_back(q);
  if (targets.empty()) return std::cerr << "no AdaRound target named '" << a.layer << "'\n", 2;

  const auto t0 = Clock::now();
  const double c0 = cpu_seconds();
  auto moments = mpq::float_input_moments(*net, targets, *calib, calib->count, a.batch);
  if (!moments) return std::cerr << moments.error().message << '\n', 2;
  const double moments_s = seconds_since(t0);
  mpq::AdaRoundOptions o;
  o.iterations = a.iters;
  nlohmann::json layers = nlohmann::json::array();
  double rounding_s = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    mpq::QuantizerSetting& s = cfg->quantizers.at(targets[i]->name);
    const auto t1 = Clock::now();
    auto r = mpq::adaround_weight(*net, *targets[i], (*moments)[i], s, o, a.calib);
    const double t = seconds_since(t1);
    if (!r) return std::cerr << r.error().message << '\n', 2;
    rounding_s += t;
    const mpq::LayerMoments& m = (*moments)[i];
    layers.push_back({{"weight", r->quantizer},
                      {"rows", r->channels},
                      {"fan_in", m.fan_in},
                      {"groups", m.groups},
                      {"vectors", m.vectors},
                      {"error_nearest", r->nearest_error},
                      {"error_adaround", r->adaround_error},
                      {"rounding_s", t}});
    if (!a.dump.empty()) {
      std::ofstream f(a.dump + "/" + targets[i]->name + ".json");
      f << dump_of(s).dump();
      if (!f) return std::cerr << "cannot write " << a.dump << '\n', 2;
    }
  }
  const nlohmann::json out{{"model", a.model},
                           {"candidate", a.candidate},
                           {"calibration", a.calib},
                           {"iterations", a.iters},
                           {"threads", a.threads},
                           {"moments_s", moments_s},
                           {"rounding_s", rounding_s},
                           {"total_s", moments_s + rounding_s},
                           {"cpu_s", cpu_seconds() - c0},
                           {"layers", layers}};
  std::cout << out.dump() << std::endl;
  return 0;
}

int run(int argc, char** argv) {
  CLI::App app{"AdaRound of one layer or all layers, timed"};
  Args a;
  app.add_option("--model", a.model)->required();
  app.add_option("--candidate", a.candidate)->capture_default_str();
  app.add_option("--calib", a.calib)->capture_default_str();
  app.add_option("--layer", a.layer, "A weight's name, or all")->capture_default_str();
  app.add_option("--iters", a.iters)->capture_default_str();
  app.add_option("--threads", a.threads)->capture_default_str();
  app.add_option("--batch", a.batch)->capture_default_str();
  app.add_option("--dump", a.dump, "Directory for each layer's quantizer and integers");
  CLI11_PARSE(app, argc, argv);
  const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                  static_cast<std::size_t>(std::max(1, a.threads)));
  return bench(a);
}

}  // namespace

int main(int argc, char** argv) {
  return mpq::guarded_main("mpq_bench_adaround", [&] { return run(argc, argv); });
}
