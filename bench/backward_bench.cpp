// One forward + backward pass (sim/backward.hpp) on one seeded batch: the softmax cross-entropy
// of output 0 against labels k mod C, its gradient w.r.t. the input and every float constant.
// Prints one JSON line (ms per forward + backward pass); bench/run_backward_vs_torch.sh
// compares it with PyTorch autograd (bench/backward_vs_torch.py) round by round.
//
//   mpq_bench_backward --model M.onnx [--batch 32] [--threads 2] [--iters 20] [--warmup 3]
//                      [--seed 0] [--profile]
// --profile prints, on stderr, the mean forward and backward time of every step.
#include <tbb/global_control.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "core/guarded_main.hpp"
#include "sim/backward.hpp"
#include "sim/prepare.hpp"

namespace {

struct Args {
  std::string model;
  std::int64_t batch = 32;
  int threads = 2;
  int iters = 20;
  int warmup = 3;
  std::uint32_t seed = 0;
  bool profile = false;
};

// The xorshift32 uniform [-1, 1) stream of mpq_bench_fp32 and ort_bench.js.
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
  std::cerr << "mpq_bench_backward: error: " << msg << '\n';
  return 2;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

int bench(const Args& a) {
  const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                  static_cast<std::size_t>(std::max(1, a.threads)));
  auto net = mpq::load_network(a.model, {}, {});
  if (!net) return fail(net.error().message);
  if (net->model.inputs.size() != 1) return fail("only single-input models are supported");
  auto inputs = mpq::make_example_inputs(net->model, a.batch);
  if (!inputs) return fail(inputs.error().message);
  fill_random(inputs->at(0).f, a.seed);
  auto bw = mpq::Backward::create(*net);
  if (!bw) return fail(bw.error().message);
  auto pass = [&]() -> mpq::Status {
    auto y = bw->forward(*inputs);
    if (!y) return y.error();
    const mpq::Tensor& logits = y->at(0);
    if (logits.rank() != 2) return mpq::make_error("output 0 is not [N, classes]");
    std::vector<std::int64_t> labels;
    for (std::int64_t k = 0; k < logits.shape[0]; ++k) labels.push_back(k % logits.shape[1]);
    auto ce = mpq::cross_entropy(logits, labels);
    if (!ce) return ce.error();
    std::vector<mpq::Tensor> seeds(y->size());
    seeds[0] = std::move(ce->grad);
    return bw->backward(seeds);
  };
  for (int k = 0; k < a.warmup; ++k)
    if (auto st = pass(); !st) return fail(st.error().message);
  std::vector<double> ms;
  for (int k = 0; k < a.iters; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    auto st = pass();
    const auto t1 = std::chrono::steady_clock::now();
    if (!st) return fail(st.error().message);
    ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  if (a.profile) {
    std::vector<double> fwd, bwd;
    bw->engine().set_profile(&fwd);
    bw->set_profile(&bwd);
    for (int k = 0; k < a.iters; ++k)
      if (auto st = pass(); !st) return fail(st.error().message);
    bw->engine().set_profile(nullptr);
    bw->set_profile(nullptr);
    std::vector<std::size_t> order(fwd.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(),
              [&](auto x, auto y) { return fwd[x] + bwd[x] > fwd[y] + bwd[y]; });
    std::fprintf(stderr, "%9s %9s  %-18s %s\n", "fwd ms", "bwd ms", "op", "node");
    for (std::size_t i : order) {
      if (fwd[i] + bwd[i] == 0.0) continue;
      const auto& n = bw->engine().step_node(i);
      std::fprintf(stderr, "%9.3f %9.3f  %-18s %s\n", 1e3 * fwd[i] / a.iters,
                   1e3 * bwd[i] / a.iters, n.op_type.c_str(), n.name.c_str());
    }
    std::fprintf(stderr, "%9.3f %9.3f  total\n",
                 1e3 * std::accumulate(fwd.begin(), fwd.end(), 0.0) / a.iters,
                 1e3 * std::accumulate(bwd.begin(), bwd.end(), 0.0) / a.iters);
  }
  const double mean = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  auto round = [](double v, int digits) {
    const double p = std::pow(10.0, digits);
    return std::round(v * p) / p;
  };
  const nlohmann::ordered_json out = {
      {"engine", "mpq"},
      {"model", std::filesystem::path(a.model).filename().string()},
      {"batch", a.batch},
      {"threads", a.threads},
      {"ms_per_pass", round(mean, 4)},
      {"ms_per_pass_median", round(median(ms), 4)},
      {"ms_per_pass_min", round(*std::min_element(ms.begin(), ms.end()), 4)},
      {"iters", a.iters},
      {"warmup", a.warmup}};
  std::cout << out.dump() << '\n';
  return 0;
}

}  // namespace

static int run(int argc, char** argv) {
  CLI::App app{
      "One forward + backward pass of the mpq engine (cross-entropy against labels k mod C) on "
      "one seeded uniform[-1,1) batch; prints one JSON line"};
  Args a;
  app.add_option("--model", a.model, "ONNX model")->required();
  app.add_option("--batch", a.batch, "Batch size (default 32)")->check(CLI::PositiveNumber);
  app.add_option("--threads", a.threads, "Worker threads (default 2)")->check(CLI::PositiveNumber);
  app.add_option("--iters", a.iters, "Timed passes (default 20)")->check(CLI::PositiveNumber);
  app.add_option("--warmup", a.warmup, "Untimed passes first (default 3)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--seed", a.seed, "Input seed (default 0)");
  app.add_flag("--profile", a.profile, "Also print per-step forward and backward times (stderr)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return bench(a);
}

int main(int argc, char** argv) {
  return mpq::guarded_main("mpq_bench_backward", [&] { return run(argc, argv); });
}
