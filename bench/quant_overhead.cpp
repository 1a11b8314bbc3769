// Fake-quantized (W8A8) inference throughput against mpq's own FP32 throughput, measured in the
// same process, interleaved run by run so that machine load affects both alike.
// Target (issue 3): quantized throughput >= 0.8x FP32. With --baseline CANDIDATE the reference
// engine is fake-quantized at that candidate instead of FP32 (issue 25: block formats such as
// Wmxfp4Amxfp8_e4m3 against W8A8, target >= 0.7x).
//
//   mpq_bench_quant [--models a.onnx b.onnx ...] [--candidate W8A8] [--baseline W8A8]
//                   [--batch 32] [--threads 2] [--iters 20]
#include <tbb/global_control.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "core/guarded_main.hpp"
#include "graph/onnx_import.hpp"
#include "sim/calibration.hpp"
#include "sim/prepare.hpp"
#include "sim/quantized_engine.hpp"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

template <class F>
double time_ms(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Per op type, the mean ms per run of both engines over `iters` more interleaved runs (stderr):
// where the quantized run spends its extra time.
void print_profile(mpq::Engine& fp, mpq::Engine& q, const std::vector<mpq::Tensor>& in, int iters) {
  std::vector<double> sf, sq;
  fp.set_profile(&sf);
  q.set_profile(&sq);
  for (int k = 0; k < iters; ++k) {
    (void)fp.run(in);
    (void)q.run(in);
  }
  fp.set_profile(nullptr);
  q.set_profile(nullptr);
  std::map<std::string, std::pair<double, double>> by_type;
  for (std::size_t i = 0; i < sf.size(); ++i) {
    auto& e = by_type[fp.step_node(i).op_type];
    e.first += sf[i];
    e.second += sq[i];
  }
  std::fprintf(stderr, "%-20s %9s %9s %9s\n", "op type", "fp32 ms", "quant ms", "extra");
  for (const auto& [type, t] : by_type)
    std::fprintf(stderr, "%-20s %9.3f %9.3f %+9.3f\n", type.c_str(), 1e3 * t.first / iters,
                 1e3 * t.second / iters, 1e3 * (t.second - t.first) / iters);
}

int bench_model(const std::string& path, const std::string& candidate, const std::string& baseline,
                std::int64_t batch, int threads, int iters, bool profile) {
  auto model = mpq::load_onnx(path);
  if (!model) return std::cerr << model.error().message << '\n', 2;
  auto net = mpq::prepare_network(std::move(model).value());
  if (!net) return std::cerr << net.error().message << '\n', 2;
  const auto placement = mpq::place_quantizers(*net);
  auto calib = mpq::open_samples("fashion-mnist:train:128", *net);
  auto data = mpq::open_samples("fashion-mnist:test", *net);
  auto cand = mpq::parse_candidate(candidate);
  auto base = mpq::parse_candidate(baseline.empty() ? "fp32" : baseline);
  if (!calib || !data || !cand || (!baseline.empty() && !base))
    return std::cerr << "cannot open data or candidate\n", 2;
  auto stats = mpq::collect_activation_stats(*net, placement, *calib, 32);
  if (!stats) return std::cerr << stats.error().message << '\n', 2;
  auto cfg =
      mpq::calibrate_config(*net, placement, mpq::uniform_formats(placement, *cand), *stats, {});
  if (!cfg) return std::cerr << cfg.error().message << '\n', 2;
  auto base_cfg =
      mpq::calibrate_config(*net, placement, mpq::uniform_formats(placement, *base), *stats, {});
  if (!base_cfg) return std::cerr << base_cfg.error().message << '\n', 2;
  const auto constants = mpq::quantize_constants(*net, *cfg);
  const auto base_constants = mpq::quantize_constants(*net, *base_cfg);
  auto fp = mpq::Engine::create(*net);
  auto q = mpq::Engine::create(*net);
  if (!fp || !q || !mpq::attach_config(*q, *cfg, constants) ||
      (!baseline.empty() && !mpq::attach_config(*fp, *base_cfg, base_constants)))
    return 2;
  const std::vector<mpq::Tensor> in{data->batch(0, batch).value()};
  std::vector<double> fp_ms, q_ms;
  for (int k = 0; k < iters + 3; ++k) {
    const double a = time_ms([&] { (void)fp->run(in); });
    const double b = time_ms([&] { (void)q->run(in); });
    if (k < 3) continue;  // warm-up
    fp_ms.push_back(a);
    q_ms.push_back(b);
  }
  if (profile) print_profile(*fp, *q, in, iters);
  const double f = median(fp_ms), qq = median(q_ms);
  const std::string ref = baseline.empty() ? "fp32" : baseline;
  const nlohmann::ordered_json out = {{"model", path.substr(path.find_last_of('/') + 1)},
                                      {"candidate", candidate},
                                      {"baseline", ref},
                                      {"batch", batch},
                                      {"threads", threads},
                                      {ref + "_ms_median", f},
                                      {"quantized_ms_median", qq},
                                      {"quantized_over_" + ref + "_throughput", f / qq},
                                      {"target", baseline.empty() ? 0.8 : 0.7}};
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace

static int run(int argc, char** argv) {
  CLI::App app{"Fake-quantized vs FP32 throughput of mpq's engine"};
  std::vector<std::string> models = {
      MPQ_SOURCE_DIR "/configs/models/cnn.onnx", MPQ_SOURCE_DIR "/configs/models/mobilenet.onnx",
      MPQ_SOURCE_DIR "/configs/models/resnet.onnx", MPQ_SOURCE_DIR "/configs/models/vit.onnx"};
  std::string candidate = "W8A8";
  std::int64_t batch = 32;
  int threads = 2, iters = 20;
  app.add_option("--models", models, "ONNX models")->capture_default_str();
  app.add_option("--candidate", candidate, "Candidate for every quantizer")->capture_default_str();
  std::string baseline;
  app.add_option("--baseline", baseline,
                 "Compare with the engine fake-quantized at this candidate instead of FP32");
  app.add_option("--batch", batch, "Batch size")->capture_default_str();
  app.add_option("--threads", threads, "Threads")->capture_default_str();
  app.add_option("--iters", iters, "Timed iterations")->capture_default_str();
  bool profile = false;
  app.add_flag("--profile", profile, "Also print per-op-type times of both engines (stderr)");
  CLI11_PARSE(app, argc, argv);
  const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                  static_cast<std::size_t>(std::max(1, threads)));
  int rc = 0;
  for (const auto& m : models)
    rc = std::max(rc, bench_model(m, candidate, baseline, batch, threads, iters, profile));
  return rc;
}

int main(int argc, char** argv) {
  return mpq::guarded_main("mpq_bench_quant_overhead", [&] { return run(argc, argv); });
}
