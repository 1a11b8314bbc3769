// FP32 engine throughput on one random batch, reported like tools/ort/ort_bench.js so the two
// can be compared line by line (bench/run_fp32_vs_onnxruntime.sh does that).
//
//   mpq_bench_fp32 --model M.onnx [--batch 32] [--threads 2] [--iters 20] [--warmup 3]
//                  [--input-shape 3x224x224] [--seed 0] [--profile] [--no-fusion] [--whole-batch]
// Runs as `mpq run` does: in sub-batches of 8 on one engine per thread (SubBatchRunner) when
// the model keeps its images apart, else the whole batch through one engine. --profile also
// prints, on stderr, the mean time of every op of one engine over the timed runs.
#include <tbb/global_control.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/guarded_main.hpp"
#include "graph/onnx_import.hpp"
#include "sim/engine.hpp"
#include "sim/prepare.hpp"
#include "sim/sub_batch_runner.hpp"

namespace {

struct Args {
  std::string model;
  std::int64_t batch = 1;
  int threads = 1;
  int iters = 20;
  int warmup = 3;
  std::string input_shape;  // without the batch dim, as in ort_bench.js
  std::uint32_t seed = 0;
  bool profile = false;
  bool no_fusion = false;
  bool whole_batch = false;
};

// The same xorshift32 uniform [-1, 1) stream as ort_bench.js, so both engines see one input.
void fill_random(std::span<float> out, std::uint32_t seed) {
  std::uint32_t x = seed ^ 0x9e3779b9u;
  if (x == 0) x = 1;
  for (auto& v : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    v = static_cast<float>((static_cast<double>(x) / 4294967296.0) * 2.0 - 1.0);
  }
}

int fail(const std::string& msg) {
  std::cerr << "mpq_bench_fp32: error: " << msg << '\n';
  return 2;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

// Per-op wall times over `iters` extra runs, slowest first (a folded Relu/Clip counts in its
// producer's row). Separate runs, so the timing calls do not touch the reported figures.
void print_profile(mpq::Engine& engine, const std::vector<mpq::Tensor>& inputs, int iters) {
  std::vector<double> sec;
  engine.set_profile(&sec);
  for (int k = 0; k < iters; ++k)
    if (!engine.run(inputs)) return;
  engine.set_profile(nullptr);
  std::vector<std::size_t> order(sec.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return sec[a] > sec[b]; });
  const double total = std::accumulate(sec.begin(), sec.end(), 0.0);
  std::fprintf(stderr, "%8s %6s  %-18s %s\n", "ms", "%", "op", "node");
  for (std::size_t i : order) {
    if (sec[i] == 0.0) continue;
    const auto& n = engine.step_node(i);
    std::fprintf(stderr, "%8.3f %6.1f  %-18s %s\n", 1e3 * sec[i] / iters, 100.0 * sec[i] / total,
                 n.op_type.c_str(), n.name.c_str());
  }
}

int bench(const Args& a) {
  const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                  static_cast<std::size_t>(std::max(1, a.threads)));
  mpq::ImportOptions opts;
  if (!a.input_shape.empty()) {
    auto s = mpq::parse_input_shape(a.input_shape);
    if (!s) return fail(s.error().message);
    // Only the single input is fed: the batch dim goes in front of the given shape.
    mpq::Shape full{a.batch};
    full.insert(full.end(), s->second.begin(), s->second.end());
    opts.input_shapes[s->first] = full;
  }
  auto model = mpq::load_onnx(a.model, opts);
  if (!model) return fail(model.error().message);
  auto net = mpq::prepare_network(std::move(model).value());
  if (!net) return fail(a.model + ": " + net.error().message);
  if (net->model.inputs.size() != 1 || net->model.inputs[0].dtype != mpq::DType::Float32)
    return fail("only single-input float32 models are supported");
  auto inputs = mpq::make_example_inputs(net->model, a.batch);
  if (!inputs) return fail(inputs.error().message);
  mpq::Tensor& x = inputs->at(0);
  if (!x.shape.empty() && x.shape[0] != a.batch)
    return fail("the model's batch dimension is fixed at " + std::to_string(x.shape[0]));
  fill_random(x.f, a.seed);
  auto engine = mpq::Engine::create(*net);
  if (!engine) return fail(engine.error().message);
  engine->set_fusion(!a.no_fusion);
  std::string split = "off (--whole-batch or --no-fusion)";
  std::optional<mpq::SubBatchRunner> runner;
  if (!a.whole_batch && !a.no_fusion) {
    auto r = mpq::SubBatchRunner::create(*net);
    if (r) {
      runner.emplace(std::move(r).value());
      split = "sub-batches of " + std::to_string(mpq::SubBatchRunner::kSubBatch);
    } else {
      split = "off: " + r.error().message;
    }
  }
  auto run_once = [&] { return runner ? runner->run(*inputs) : engine->run(*inputs); };

  for (int k = 0; k < a.warmup; ++k)
    if (auto r = run_once(); !r) return fail(r.error().message);
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(a.iters));
  for (int k = 0; k < a.iters; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = run_once();
    const auto t1 = std::chrono::steady_clock::now();
    if (!r) return fail(r.error().message);
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  if (a.profile) print_profile(*engine, *inputs, a.iters);
  const double mean = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  auto round = [](double v, int digits) {
    const double p = std::pow(10.0, digits);
    return std::round(v * p) / p;
  };
  const nlohmann::ordered_json out = {
      // key order as ort_bench.js
      {"engine", "mpq"},
      {"version", MPQ_VERSION},
      {"model", std::filesystem::path(a.model).filename().string()},
      {"batch", a.batch},
      {"threads", a.threads},
      {"ms_per_batch", round(mean, 4)},
      {"images_per_s", round(static_cast<double>(a.batch) * 1000.0 / mean, 2)},
      {"ms_per_batch_median", round(median(ms), 4)},
      {"ms_per_batch_min", round(*std::min_element(ms.begin(), ms.end()), 4)},
      {"iters", a.iters},
      {"warmup", a.warmup},
      {"input_shape", x.shape},
      {"split", split}};
  std::cout << out.dump() << '\n';
  return 0;
}

}  // namespace

static int run(int argc, char** argv) {
  CLI::App app{
      "FP32 throughput of the mpq engine on one seeded uniform[-1,1) batch; prints one "
      "JSON line like tools/ort/ort_bench.js (engine \"mpq\")"};
  Args a;
  app.add_option("--model", a.model, "ONNX model")->required();
  app.add_option("--batch", a.batch, "Batch size (default 1)")->check(CLI::PositiveNumber);
  app.add_option("--threads", a.threads, "Worker threads (default 1)")->check(CLI::PositiveNumber);
  app.add_option("--iters", a.iters, "Timed runs (default 20)")->check(CLI::PositiveNumber);
  app.add_option("--warmup", a.warmup, "Untimed runs first (default 3)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--input-shape", a.input_shape,
                 "Input shape without the batch dim, e.g. 3x224x224 (default: the model's)");
  app.add_option("--seed", a.seed, "Input seed (default 0)");
  app.add_flag("--profile", a.profile, "Also print per-op times (stderr)");
  app.add_flag("--no-fusion", a.no_fusion,
               "Run every op on its own (no folded Relu/Clip/bias, no storage reuse)");
  app.add_flag("--whole-batch", a.whole_batch,
               "Run the whole batch through one engine, each op split over the threads, instead "
               "of sub-batches of 8 on one engine per thread");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return bench(a);
}

int main(int argc, char** argv) {
  return mpq::guarded_main("mpq_bench_fp32", [&] { return run(argc, argv); });
}
