// The cost table: totals are sums of the per-layer costs computed directly, and a one-group delta
// equals the difference of two totals.
#include <gtest/gtest.h>

#include "hw/layer_cost.hpp"
#include "search/cost_table.hpp"
#include "search/hardware_groups.hpp"
#include "test_accelerators.hpp"

namespace mpq {
namespace {

// Three layers in a chain over 3 groups: conv (group 0 -> output group 1), dw (group 1 -> 2),
// fc (group 2, output unquantized).
CostTable chain(const hw::Accelerator& acc) {
  std::vector<TableLayer> layers = {{test::small_conv(), {0, -1, 1}},
                                    {test::small_depthwise(), {1, -1, 2}},
                                    {test::small_gemm(), {2, -1, -1}}};
  return CostTable::build(acc, layers, 3);
}

TEST(CostTable, TotalIsTheSumOfDirectLayerCosts) {
  const auto acc = test::parse_or_die(test::kRooflineYaml);
  const CostTable t = chain(acc);
  const std::vector<int> cfg = {1, 0, 0};  // conv at W4A8, the rest W8A8
  const auto& c = acc.candidates;
  const double expected_latency =
      hw::layer_cost(acc, test::small_conv(), 1, hw::formats_of(c[1], c[0].activation)).latency_s +
      hw::layer_cost(acc, test::small_depthwise(), 0, hw::formats_of(c[0], c[0].activation))
          .latency_s +
      hw::layer_cost(acc, test::small_gemm(), 0, hw::formats_of(c[0], c[0].activation)).latency_s;
  // Worked out in latency_models_test: 141.6 + 1844 + 2660 ns.
  EXPECT_NEAR(expected_latency, (141.6 + 1844 + 2660) * 1e-9, 1e-15);
  EXPECT_NEAR(t.total(cfg).latency_s, expected_latency, 1e-15);
  EXPECT_DOUBLE_EQ(t.total(cfg).macs, 4608 + 9216 + 2560);
  EXPECT_DOUBLE_EQ(t.total(cfg).weight_bits, 288 * 4 + 144 * 8 + 2560 * 8);
}

TEST(CostTable, DeltaEqualsDifferenceOfTotals) {
  const auto acc = test::parse_or_die(test::kRooflineYaml);
  const CostTable t = chain(acc);
  const std::vector<int> base = {0, 0, 0};
  for (std::size_t g = 0; g < 3; ++g)
    for (int c = 0; c < 2; ++c) {
      std::vector<int> changed = base;
      changed[g] = c;
      const CostMetrics d = t.delta(base, g, c);
      const CostMetrics want = t.total(changed) - t.total(base);
      EXPECT_NEAR(d.latency_s, want.latency_s, 1e-15) << g << " " << c;
      EXPECT_NEAR(d.energy_j, want.energy_j, 1e-18);
      EXPECT_NEAR(d.bops, want.bops, 1e-6);
      EXPECT_NEAR(d.weight_bits, want.weight_bits, 1e-9);
    }
  // Group 0 at W4A8 halves the conv's weight bits: 288 x (4 - 8) = -1152.
  EXPECT_DOUBLE_EQ(t.delta(base, 0, 1).weight_bits, -1152);
  // Group 1 touches the conv (its output) and the depthwise layer (its input).
  EXPECT_EQ(t.layers_of_group(1).size(), 2u);
}

TEST(CostTable, OutputFormatComesFromTheOutputGroup) {
  // Two activation formats: group 1 at W8A16 stores the conv's output in int16.
  const auto acc = test::parse_or_die(R"(name: t
clock_mhz: 1000
latency_model: roofline
candidates:
  W8A8: {weights: int8, activations: int8}
  W8A16: {weights: int8, activations: int16}
op_classes:
  default:
    macs_per_cycle: {W8A8: 100, W8A16: 50}
energy_pj_per_mac: {W8A8: 1, W8A16: 2}
memory:
  - {name: dram, bandwidth_gb_per_s: 1, energy_pj_per_byte: 0}
)");
  std::vector<TableLayer> layers = {{test::small_conv(), {0, -1, 1}}};
  const CostTable t = CostTable::build(acc, layers, 2);
  EXPECT_DOUBLE_EQ(t.total({0, 0}).activation_bits, 128 * 8);
  EXPECT_DOUBLE_EQ(t.total({0, 1}).activation_bits, 128 * 16);
  // The MACs still run at group 0's W8A8: 4608 x 8 x 8 BOPs.
  EXPECT_DOUBLE_EQ(t.total({0, 1}).bops, 4608.0 * 64);
  // Memory: 144 + 256 + 288 = 688 B at 1 B/ns = 688 ns > compute 46.08 ns.
  EXPECT_NEAR(t.total({0, 1}).latency_s, 688e-9, 1e-15);
}

TEST(CostTable, BaselineIsTheHighestCommonCandidate) {
  const auto acc = test::parse_or_die(test::kRooflineYaml);
  // Group 1 supports W8A8 only (a depthwise conv): the common highest is W8A8 for all.
  EXPECT_EQ(baseline_candidates(acc, {{0, 1}, {0}, {0, 1}}), (GroupConfig{0, 0, 0}));
  EXPECT_EQ(highest_candidate(acc, {0, 1}), 0);  // W8A8 (64 BOPs/MAC) over W4A8 (32)
  // No common candidate: each group its own highest.
  EXPECT_EQ(baseline_candidates(acc, {{1}, {0}}), (GroupConfig{1, 0}));
}

}  // namespace
}  // namespace mpq
