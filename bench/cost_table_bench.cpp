// The cost table at scale: building it for a 5,000-layer synthetic network on the 4 bundled
// accelerators (target: under a second), and the cost of one configuration update (one group
// changes candidate) read from it. Results in bench/README.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "hw/accelerator_loader.hpp"
#include "search/cost_table.hpp"
#include "search/hardware_groups.hpp"

namespace mpq {
namespace {

constexpr std::size_t kLayers = 5000;

// A chain of layers, each in its own group, output stored at the next group's format; every
// 10th layer is an activation x activation MatMul whose second operand comes from the group
// before. Shapes are drawn like those of small CNNs and transformers.
std::vector<TableLayer> synthetic_layers() {
  std::mt19937 rng(42);
  auto pick = [&](std::initializer_list<std::int64_t> v) {
    return *(v.begin() + std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng));
  };
  std::vector<TableLayer> layers;
  for (std::size_t l = 0; l < kLayers; ++l) {
    hw::LayerWorkload w;
    w.name = "layer";
    w.name += std::to_string(l);  // not operator+ on a literal: GCC 12 -Wrestrict false positive
    const std::int64_t side = pick({7, 14, 28, 56}), cin = pick({16, 32, 64, 128, 256}),
                       cout = pick({16, 32, 64, 128, 256}), k = pick({1, 3});
    LayerGroups g{static_cast<int>(l), -1, l + 1 < kLayers ? static_cast<int>(l + 1) : -1};
    switch (l % 10) {
      case 3:  // depthwise
        w.op_class = "depthwise_conv";
        w.gemm_count = cin, w.gemm_m = side * side, w.gemm_n = 1, w.gemm_k = k * k;
        w.weight_elements = cin * k * k;
        break;
      case 7:  // fully connected
        w.op_class = "gemm";
        w.gemm_m = side, w.gemm_n = cout, w.gemm_k = cin;
        w.weight_elements = cin * cout;
        break;
      case 9:  // attention scores
        w.op_class = "matmul";
        w.gemm_count = 4, w.gemm_m = side, w.gemm_n = side, w.gemm_k = cin / 4;
        w.weight_elements = side * cin;
        w.weight_is_activation = true;
        g.operand = l > 0 ? static_cast<int>(l - 1) : -1;
        break;
      default:
        w.op_class = "conv";
        w.gemm_m = side * side, w.gemm_n = cout, w.gemm_k = k * k * cin;
        w.weight_elements = cout * cin * k * k;
    }
    w.macs = w.gemm_count * w.gemm_m * w.gemm_n * w.gemm_k;
    w.input_elements = w.gemm_count * w.gemm_m * w.gemm_k / (k * k);
    w.output_elements = w.gemm_count * w.gemm_m * w.gemm_n;
    layers.push_back({w, g});
  }
  return layers;
}

const std::vector<hw::Accelerator>& accelerators() {
  static const std::vector<hw::Accelerator> accs = [] {
    std::vector<hw::Accelerator> v;
    for (const char* f : {"edge_npu", "bitfusion", "gpu_t4", "systolic_ws_32x32"}) {
      auto a = hw::load_accelerator(std::string(MPQ_SOURCE_DIR) + "/configs/hw/" + f + ".yaml",
                                    mpq::fusion_op_kind);
      if (!a) {  // a broken bundled file: nothing to measure
        std::fprintf(stderr, "%s\n", a.error().message.c_str());
        std::exit(2);
      }
      v.push_back(std::move(a).value());
    }
    return v;
  }();
  return accs;
}

void BM_BuildCostTables4Accelerators(benchmark::State& state) {
  const auto layers = synthetic_layers();
  for (auto _ : state) {
    for (const auto& acc : accelerators()) {
      CostTable t = CostTable::build(acc, layers, kLayers);
      benchmark::DoNotOptimize(t);
    }
  }
  state.counters["layers"] = static_cast<double>(kLayers);
}
BENCHMARK(BM_BuildCostTables4Accelerators)->Unit(benchmark::kMillisecond);

// One search step: a random group moves to a random candidate; read the delta and apply it.
void BM_ConfigurationUpdate(benchmark::State& state) {
  const auto& acc = accelerators()[static_cast<std::size_t>(state.range(0))];
  const CostTable t = CostTable::build(acc, synthetic_layers(), kLayers);
  std::vector<int> config(kLayers, 0);
  CostMetrics total = t.total(config);
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> group(0, kLayers - 1);
  std::uniform_int_distribution<int> cand(0, static_cast<int>(acc.candidates.size()) - 1);
  for (auto _ : state) {
    const std::size_t g = group(rng);
    const int c = cand(rng);
    total += t.delta(config, g, c);
    config[g] = c;
    benchmark::DoNotOptimize(total);
  }
  state.SetLabel(acc.name);
}
BENCHMARK(BM_ConfigurationUpdate)->DenseRange(0, 3)->Unit(benchmark::kNanosecond);

// For comparison: pricing a whole configuration from the table (one lookup per layer).
void BM_FullTotal(benchmark::State& state) {
  const auto& acc = accelerators()[0];
  const CostTable t = CostTable::build(acc, synthetic_layers(), kLayers);
  std::vector<int> config(kLayers, 0);
  for (auto _ : state) benchmark::DoNotOptimize(t.total(config));
  state.SetLabel(acc.name);
}
BENCHMARK(BM_FullTotal)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mpq

BENCHMARK_MAIN();
