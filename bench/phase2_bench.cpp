// Phase 2 at scale (issue 6): synthetic problems of 100 to 5,000 groups x 4 options (8, 6, 4 and
// 2 bits; BOPs-like costs, noise-power-like losses). Times the Pandey front built from the sorted
// list plus a binary search over it with a trivial evaluator, one budget ILP solve (GLPK), the
// greedy front, and front + ILP together. Results in bench/README.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "search/budget_ilp.hpp"
#include "search/front_search.hpp"
#include "search/greedy_budget.hpp"
#include "search/sensitivity_front.hpp"

namespace mpq {
namespace {

// Group g: MACs log-uniform in [1e4, 1e7], sensitivity log-uniform over 4 decades. Option o at
// b bits: cost delta MACs x (b^2 - 64) (BOPs at W b A b against W8A8), loss s x 4^(8 - b) x 1e-6
// (quantization noise power grows 4x per bit removed), 0 for the 8-bit baseline.
MpProblem synthetic_problem(int groups) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<double> u(0, 1);
  MpProblem p;
  for (int g = 0; g < groups; ++g) {
    const double macs = std::pow(10.0, 4 + 3 * u(rng)), s = std::pow(10.0, 4 * u(rng));
    p.base_cost += macs * 64;
    std::vector<MpOption> options{{0, 0}};
    for (int bits : {6, 4, 2})
      options.push_back({s * std::pow(4.0, 8 - bits) * 1e-6, macs * (bits * bits - 64)});
    p.groups.push_back(options);
  }
  return p;
}

// Every (group, option > 0), least loss first (ties: larger saving, then group, option).
std::vector<OptionChange> sorted_list(const MpProblem& p) {
  std::vector<OptionChange> list;
  for (std::size_t g = 0; g < p.groups.size(); ++g)
    for (std::size_t o = 1; o < p.groups[g].size(); ++o)
      list.push_back({static_cast<int>(g), static_cast<int>(o)});
  auto key = [&](const OptionChange& c) {
    const MpOption& m =
        p.groups[static_cast<std::size_t>(c.group)][static_cast<std::size_t>(c.option)];
    return std::make_tuple(m.loss, m.cost_delta, c.group, c.option);
  };
  std::sort(list.begin(), list.end(),
            [&](const OptionChange& a, const OptionChange& b) { return key(a) < key(b); });
  return list;
}

double mid_budget(const MpProblem& p) {
  const double cheapest = config_cost(p, cheapest_config(p));
  return cheapest + 0.3 * (p.base_cost - cheapest);
}

// The front plus a binary search for accuracy >= 1 - 0.5 x (the front's largest loss), with the
// predicted loss as a trivial evaluator.
std::size_t front_and_search(const MpProblem& p, const std::vector<OptionChange>& list) {
  const MpFront front = sensitivity_front(p, list).value();
  MemoizedEvaluator evaluate(
      [&p](const MpConfig& c) { return Evaluation::of(1.0 - config_loss(p, c)); });
  const auto r = binary_search_front(front, evaluate, 1.0 - 0.5 * front.points.back().loss);
  return front.points.size() + r->point;
}

void BM_FrontAndBinarySearch(benchmark::State& state) {
  const MpProblem p = synthetic_problem(static_cast<int>(state.range(0)));
  const auto list = sorted_list(p);
  for (auto _ : state) benchmark::DoNotOptimize(front_and_search(p, list));
  state.counters["front_points"] = static_cast<double>(sensitivity_front(p, list)->points.size());
}

void BM_BudgetIlp(benchmark::State& state) {
  const MpProblem p = synthetic_problem(static_cast<int>(state.range(0)));
  const double budget = mid_budget(p);
  for (auto _ : state) {
    auto r = solve_budget_ilp(p, budget);
    if (!r) state.SkipWithError(r.error().message.c_str());
    benchmark::DoNotOptimize(r);
  }
}

void BM_GreedyFront(benchmark::State& state) {
  const MpProblem p = synthetic_problem(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(greedy_budget_front(p)->points.size());
}

void BM_FrontPlusIlp(benchmark::State& state) {
  const MpProblem p = synthetic_problem(static_cast<int>(state.range(0)));
  const double budget = mid_budget(p);
  for (auto _ : state) {
    const auto list = sorted_list(p);
    benchmark::DoNotOptimize(front_and_search(p, list));
    auto r = solve_budget_ilp(p, budget);
    if (!r) state.SkipWithError(r.error().message.c_str());
    benchmark::DoNotOptimize(r);
  }
}

#define MPQ_PHASE2_SIZES ->Arg(100)->Arg(500)->Arg(1000)->Arg(2000)->Arg(5000)
BENCHMARK(BM_FrontAndBinarySearch) MPQ_PHASE2_SIZES->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BudgetIlp) MPQ_PHASE2_SIZES->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GreedyFront) MPQ_PHASE2_SIZES->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FrontPlusIlp) MPQ_PHASE2_SIZES->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mpq

BENCHMARK_MAIN();
