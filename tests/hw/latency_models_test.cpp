// Each latency model and the energy model on a conv, a depthwise conv and a GEMM, against values
// worked out by hand (the arithmetic is in the comments).
#include <gtest/gtest.h>

#include <cmath>

#include "hw/bit_serial.hpp"
#include "hw/layer_cost.hpp"
#include "hw/measured_latency_table.hpp"
#include "hw/systolic_model.hpp"
#include "test_accelerators.hpp"

namespace mpq {
namespace {

using test::parse_or_die;

hw::OperandFormats at(const hw::Accelerator& acc, const char* cand) {
  const auto& c = acc.candidates[static_cast<std::size_t>(*acc.candidate_index(cand))];
  return hw::formats_of(c, c.activation);
}

TEST(Roofline, ConvOnChipIsMemoryBound) {
  const auto acc = parse_or_die(test::kRooflineYaml);
  const auto c = hw::layer_cost(acc, test::small_conv(), 0, at(acc, "W8A8"));
  // Bytes at int8: input 144, output 128, weights 288 = 560, all fit the 1024 B SRAM.
  EXPECT_DOUBLE_EQ(c.bytes[0], 560);
  EXPECT_DOUBLE_EQ(c.bytes[1], 0);
  // compute 4608 / 100 = 46.08 ns; memory 560 B / 10 B/ns = 56 ns; + 100 cycles overhead.
  EXPECT_DOUBLE_EQ(c.compute_cycles, 46.08);
  EXPECT_NEAR(c.latency_s, 156e-9, 1e-15);
  // energy 4608 x 1 pJ + 560 x 2 pJ = 5728 pJ.
  EXPECT_NEAR(c.energy_j, 5728e-12, 1e-18);
  EXPECT_DOUBLE_EQ(c.bops, 4608.0 * 8 * 8);
  EXPECT_DOUBLE_EQ(c.weight_bits, 288.0 * 8);
  EXPECT_DOUBLE_EQ(c.activation_bits, 128.0 * 8);
}

TEST(Roofline, ConvAtW4A8) {
  const auto acc = parse_or_die(test::kRooflineYaml);
  const auto c = hw::layer_cost(acc, test::small_conv(), 1, at(acc, "W4A8"));
  // Weights at 4 bits: 144 B; bytes 144 + 128 + 144 = 416 -> 41.6 ns > compute 4608/200 = 23.04.
  EXPECT_NEAR(c.latency_s, 141.6e-9, 1e-15);
  // energy 4608 x 0.5 + 416 x 2 = 2304 + 832 = 3136 pJ.
  EXPECT_NEAR(c.energy_j, 3136e-12, 1e-18);
  EXPECT_DOUBLE_EQ(c.bops, 4608.0 * 4 * 8);
  EXPECT_DOUBLE_EQ(c.weight_bits, 288.0 * 4);
}

// Block formats are declared like any other candidate; their scales travel with the elements.
TEST(Roofline, ConvAtBlockFormatsCountsTheScales) {
  const std::string yaml = R"(name: test-mx
clock_mhz: 1000
latency_model: roofline
candidates:
  Wmxfp4Amxfp8_e4m3: {weights: mxfp4, activations: mxfp8_e4m3}
  Wnvfp4Anvfp4: {weights: nvfp4, activations: nvfp4}
op_classes:
  default:
    macs_per_cycle: {Wmxfp4Amxfp8_e4m3: 400, Wnvfp4Anvfp4: 800}
energy_pj_per_mac: {Wmxfp4Amxfp8_e4m3: 0.25, Wnvfp4Anvfp4: 0.125}
memory:
  - {name: sram, capacity_kib: 1, bandwidth_gb_per_s: 10, energy_pj_per_byte: 2}
  - {name: dram, bandwidth_gb_per_s: 1, energy_pj_per_byte: 100}
)";
  const auto acc = parse_or_die(yaml);
  const auto mx = hw::layer_cost(acc, test::small_conv(), 0, at(acc, "Wmxfp4Amxfp8_e4m3"));
  // Weights 288 x 4.25 / 8 = 153 B; input 144 x 8.25 / 8 = 148.5 B; output 128 x 8.25 / 8 =
  // 132 B; 433.5 B on chip -> 43.35 ns > compute 4608 / 400 = 11.52 ns.
  EXPECT_DOUBLE_EQ(mx.bytes[0], 433.5);
  EXPECT_NEAR(mx.latency_s, 43.35e-9, 1e-15);
  // energy 4608 x 0.25 + 433.5 x 2 = 1152 + 867 = 2019 pJ.
  EXPECT_NEAR(mx.energy_j, 2019e-12, 1e-18);
  EXPECT_DOUBLE_EQ(mx.weight_bits, 288.0 * 4.25);
  EXPECT_DOUBLE_EQ(mx.activation_bits, 128.0 * 8.25);
  EXPECT_DOUBLE_EQ(mx.bops, 4608.0 * (4 * std::sqrt(1.5) + 0.25) * (8 * std::sqrt(1.5) + 0.25));
  const auto nv = hw::layer_cost(acc, test::small_conv(), 1, at(acc, "Wnvfp4Anvfp4"));
  // 4.5 bits everywhere: (288 + 144 + 128) x 4.5 / 8 = 315 B.
  EXPECT_DOUBLE_EQ(nv.bytes[0], 315);
}

TEST(Roofline, DepthwiseOperandsSpillToDram) {
  const auto acc = parse_or_die(test::kRooflineYaml);
  const auto c = hw::layer_cost(acc, test::small_depthwise(), 0, at(acc, "W8A8"));
  // Placement in order input, output, weights: input 1600 B > 1024 -> DRAM; output 1024 B fills
  // the SRAM; weights 144 B no longer fit -> DRAM. SRAM carries everything (2768 B), DRAM
  // 1600 + 144 = 1744 B.
  EXPECT_DOUBLE_EQ(c.bytes[0], 2768);
  EXPECT_DOUBLE_EQ(c.bytes[1], 1744);
  // compute 9216 / 10 (the depthwise class's own throughput) = 921.6 ns; memory max(276.8,
  // 1744 / 1) = 1744 ns; + 100 overhead = 1844 ns.
  EXPECT_NEAR(c.latency_s, 1844e-9, 1e-15);
  // energy 9216 x 1 + 2768 x 2 + 1744 x 100 = 9216 + 5536 + 174400 = 189152 pJ.
  EXPECT_NEAR(c.energy_j, 189152e-12, 1e-18);
}

TEST(Roofline, GemmWeightsDoNotFitOnChip) {
  const auto acc = parse_or_die(test::kRooflineYaml);
  const auto c = hw::layer_cost(acc, test::small_gemm(), 0, at(acc, "W8A8"));
  // input 256 B and output 10 B on chip; weights 2560 B > 758 B left -> DRAM.
  EXPECT_DOUBLE_EQ(c.bytes[0], 2826);
  EXPECT_DOUBLE_EQ(c.bytes[1], 2560);
  // max(2560 / 100 = 25.6, 2826 / 10 = 282.6, 2560 / 1 = 2560) + 100 = 2660 ns.
  EXPECT_NEAR(c.latency_s, 2660e-9, 1e-15);
  // 2560 x 1 + 2826 x 2 + 2560 x 100 = 2560 + 5652 + 256000 = 264212 pJ.
  EXPECT_NEAR(c.energy_j, 264212e-12, 1e-18);
}

const char* kBitSerialYaml = R"(name: test-bits
clock_mhz: 1000
latency_model: bit_serial
bit_serial: {macs_per_cycle_8x8: 16}
candidates:
  W8A8: {weights: int8, activations: int8}
  W2A2: {weights: int2, activations: int2}
  W3A8: {weights: int3, activations: int8}
  W4A6: {weights: int4, activations: int6}
  W8A16: {weights: int8, activations: int16}
energy_pj_per_mac: {W8A8: 1, W2A2: 1, W3A8: 1, W4A6: 1, W8A16: 1}
memory:
  - {name: dram, bandwidth_gb_per_s: 1000000, energy_pj_per_byte: 0}
)";

TEST(BitSerial, OperandFactorsFollowTheBrickFormula) {
  hw::BitSerialArray a;  // 2-bit bricks, 8-bit maximum
  // floor(8 / max(b, 2)): 2 -> 4, 3 -> 2 (costs as 4), 4 -> 2, 5..7 -> 1 (cost as 8), 8 -> 1.
  EXPECT_EQ(hw::bit_serial_operand_factor(a, 1), 4);
  EXPECT_EQ(hw::bit_serial_operand_factor(a, 2), 4);
  EXPECT_EQ(hw::bit_serial_operand_factor(a, 3), 2);
  EXPECT_EQ(hw::bit_serial_operand_factor(a, 4), 2);
  EXPECT_EQ(hw::bit_serial_operand_factor(a, 7), 1);
  EXPECT_EQ(hw::bit_serial_operand_factor(a, 8), 1);
  EXPECT_EQ(hw::bit_serial_operand_factor(a, 16), 0.5);  // two passes
}

TEST(BitSerial, ConvCyclesScaleWithTheBricks) {
  const auto acc = parse_or_die(kBitSerialYaml);
  const auto w = test::small_conv();
  auto cycles = [&](const char* name) {
    return hw::layer_cost(acc, w, *acc.candidate_index(name), at(acc, name)).compute_cycles;
  };
  EXPECT_DOUBLE_EQ(cycles("W8A8"), 4608.0 / 16);           // 1 x 1 -> 288
  EXPECT_DOUBLE_EQ(cycles("W2A2"), 4608.0 / (16 * 16));    // 4 x 4 -> 18
  EXPECT_DOUBLE_EQ(cycles("W3A8"), 4608.0 / (16 * 2));     // 2 x 1 -> 144
  EXPECT_DOUBLE_EQ(cycles("W4A6"), 4608.0 / (16 * 2));     // 2 x 1 -> 144
  EXPECT_DOUBLE_EQ(cycles("W8A16"), 4608.0 / (16 * 0.5));  // 1 x 1/2 -> 576
  // Memory is negligible here, so latency = compute: 288 ns at W8A8.
  EXPECT_NEAR(hw::layer_cost(acc, w, 0, at(acc, "W8A8")).latency_s, 288e-9, 1e-12);
}

hw::SystolicArray array4x4(hw::Dataflow d) {
  hw::SystolicArray a;
  a.rows = 4, a.cols = 4, a.dataflow = d;
  a.ifmap_sram_bytes = a.filter_sram_bytes = a.ofmap_sram_bytes = 1024;
  return a;
}

TEST(Systolic, ConvCyclesForEachDataflow) {
  // small_conv: M = 16, N = 8, K = 36.
  // WS: Sr = K = 36 -> 9 row folds, Sc = N = 8 -> 2; T = M = 16; P = 2*4 + 4 + 16 - 2 = 26;
  // 18 x 26 - 1 = 467.
  EXPECT_EQ(hw::map_gemm(array4x4(hw::Dataflow::WeightStationary), 16, 8, 36).compute_cycles(),
            467);
  // OS: Sr = M = 16 -> 4, Sc = 8 -> 2; T = K = 36; P = 36 + 4 + 4 - 2 = 42; 8 x 42 - 1 = 335.
  EXPECT_EQ(hw::map_gemm(array4x4(hw::Dataflow::OutputStationary), 16, 8, 36).compute_cycles(),
            335);
  // IS: Sr = K = 36 -> 9, Sc = M = 16 -> 4; T = N = 8; P = 2*4 + 4 + 8 - 2 = 18; 36 x 18 - 1 = 647.
  EXPECT_EQ(hw::map_gemm(array4x4(hw::Dataflow::InputStationary), 16, 8, 36).compute_cycles(), 647);
}

TEST(Systolic, DepthwiseRunsOneGemmPerChannel) {
  const auto int8 = NumberFormat::integer(8);
  hw::OperandFormats f{int8, int8, int8};
  const auto r =
      hw::systolic_run(array4x4(hw::Dataflow::WeightStationary), test::small_depthwise(), f, 1e9);
  // Per channel: Sr = K = 9 -> 3 folds, Sc = 1 -> 1; P = 8 + 4 + 64 - 2 = 74; 3 x 74 - 1 = 221;
  // 16 channels: 3536.
  EXPECT_DOUBLE_EQ(r.compute_cycles, 3536);
  EXPECT_DOUBLE_EQ(r.stall_cycles, 0);
}

TEST(Systolic, GemmCycles) {
  // WS: Sr = K = 256 -> 64, Sc = N = 10 -> 3; T = M = 1; P = 8 + 4 + 1 - 2 = 11; 192 x 11 - 1.
  EXPECT_EQ(hw::map_gemm(array4x4(hw::Dataflow::WeightStationary), 1, 10, 256).compute_cycles(),
            2111);
}

TEST(Systolic, TrafficAndStallsWithSlowDram) {
  const auto int8 = NumberFormat::integer(8);
  hw::OperandFormats f{int8, int8, int8};
  const auto a = array4x4(hw::Dataflow::WeightStationary);
  // 1 B/cycle DRAM. SRAM reads: ifmap 16 x 36 x 2 col folds = 1152, filters 36 x 8 = 288,
  // ofmap 16 x 8 x 9 row folds = 1152: 2592 B. DRAM: every operand fits its 1 KiB SRAM, so once:
  // 144 + 288 + 128 = 560 B. Per fold 560 / 18 = 31.1 cycles of fetch > P = 26: 18 folds stall
  // 560 - 18 x 26 = 92 cycles in all.
  const auto slow = hw::systolic_run(a, test::small_conv(), f, 1.0);
  EXPECT_DOUBLE_EQ(slow.compute_cycles, 467);
  EXPECT_DOUBLE_EQ(slow.sram_bytes, 2592);
  EXPECT_DOUBLE_EQ(slow.dram_bytes, 560);
  EXPECT_NEAR(slow.stall_cycles, 92, 1e-9);
  // 10 B/cycle: 3.1 cycles of fetch per fold, hidden under P.
  EXPECT_DOUBLE_EQ(hw::systolic_run(a, test::small_conv(), f, 10.0).stall_cycles, 0);
  // An ifmap SRAM of 100 B < 144 B: the input is fetched again on each of its 2 passes (one per
  // column fold): 144 x 2 + 288 + 128 = 704 B.
  auto tiny = a;
  tiny.ifmap_sram_bytes = 100;
  EXPECT_DOUBLE_EQ(hw::systolic_run(tiny, test::small_conv(), f, 10.0).dram_bytes,
                   144 * 2 + 288 + 128);
}

TEST(Systolic, LayerCostUsesTheTwoMemoryLevels) {
  const auto acc = parse_or_die(R"(name: sa
clock_mhz: 1000
latency_model: systolic
systolic: {rows: 4, cols: 4, dataflow: ws, ifmap_sram_kib: 1, filter_sram_kib: 1, ofmap_sram_kib: 1}
candidates:
  W8A8: {weights: int8, activations: int8}
energy_pj_per_mac: {W8A8: 1}
memory:
  - {name: sram, capacity_kib: 3, bandwidth_gb_per_s: 100, energy_pj_per_byte: 2}
  - {name: dram, bandwidth_gb_per_s: 1, energy_pj_per_byte: 100}
)");
  const auto c = hw::layer_cost(acc, test::small_conv(), 0, at(acc, "W8A8"));
  // As above at 1 B/cycle: 467 compute + 92 stall cycles = 559 ns.
  EXPECT_NEAR(c.latency_s, 559e-9, 1e-15);
  // 4608 x 1 + 2592 x 2 + 560 x 100 = 4608 + 5184 + 56000 = 65792 pJ.
  EXPECT_NEAR(c.energy_j, 65792e-12, 1e-18);
}

TEST(Measured, LatencyFromTheTableAndMissingEntries) {
  auto acc = parse_or_die(test::kRooflineYaml);
  auto table = hw::parse_measured_latencies(
      "# measured on a bench\nlayer,W8A8,W4A8\nconv,12.5,\nfc,3,2\n", "m.csv", acc.candidates);
  ASSERT_TRUE(table.ok()) << table.error().message;
  acc.latency_model = hw::LatencyModelKind::Measured;
  acc.measured = *table;
  const auto c = hw::layer_cost(acc, test::small_conv(), 0, at(acc, "W8A8"));
  EXPECT_DOUBLE_EQ(c.latency_s, 12.5e-6);
  EXPECT_NEAR(c.energy_j, 5728e-12, 1e-18);  // energy still from MACs and bytes, as the roofline
  const auto missing = hw::layer_cost(acc, test::small_conv(), 1, at(acc, "W4A8"));
  EXPECT_FALSE(missing.supported());
  EXPECT_NE(missing.why.find("'conv' at W4A8"), std::string::npos) << missing.why;
}

TEST(Measured, BadTablesNameFileLineAndColumn) {
  const auto acc = parse_or_die(test::kRooflineYaml);
  auto undeclared = hw::parse_measured_latencies("layer,W8A8,W2A2\n", "m.csv", acc.candidates);
  ASSERT_FALSE(undeclared.ok());
  EXPECT_EQ(undeclared.error().message, "m.csv:1: W2A2: not a declared candidate");
  auto negative = hw::parse_measured_latencies("layer,W8A8\nconv,-3\n", "m.csv", acc.candidates);
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message.find("m.csv:2: conv: W8A8: latency must be a positive"),
            std::string::npos);
}

}  // namespace
}  // namespace mpq
