// The YAML loader: every bundled accelerator loads, and every kind of mistake is an error that
// names the file, the line and the key.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/candidate.hpp"
#include "hw/accelerator_loader.hpp"
#include "test_accelerators.hpp"

namespace mpq {
namespace {

std::string load_error(const std::string& yaml) {
  auto acc = hw::parse_accelerator(yaml, "acc.yaml", fusion_op_kind);
  EXPECT_FALSE(acc.ok()) << "loaded without error:\n" << yaml;
  return acc.ok() ? "" : acc.error().message;
}

// Replaces the first occurrence of `from` in the roofline test description.
std::string edited(const std::string& from, const std::string& to) {
  std::string s = test::kRooflineYaml;
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(AcceleratorLoader, BundledAcceleratorsLoad) {
  int count = 0;
  for (const auto& e : std::filesystem::directory_iterator(MPQ_SOURCE_DIR "/configs/hw")) {
    if (e.path().extension() != ".yaml") continue;
    auto acc = hw::load_accelerator(e.path().string(), fusion_op_kind);
    EXPECT_TRUE(acc.ok()) << acc.error().message;
    ++count;
  }
  EXPECT_GE(count, 4);
}

TEST(AcceleratorLoader, ReadsTheTestDescription) {
  const auto acc = test::parse_or_die(test::kRooflineYaml);
  EXPECT_EQ(acc.name, "test-roofline");
  EXPECT_DOUBLE_EQ(acc.clock_hz, 1e9);
  ASSERT_EQ(acc.candidates.size(), 2u);
  EXPECT_EQ(acc.candidates[1].weight.bits, 4);
  EXPECT_EQ(*acc.macs_per_cycle("conv", 1), 200);           // from default
  EXPECT_EQ(*acc.macs_per_cycle("depthwise_conv", 0), 10);  // its own entry
  EXPECT_DOUBLE_EQ(acc.memory[0].capacity_bytes, 1024);
  EXPECT_DOUBLE_EQ(acc.memory[1].bandwidth_bytes_per_s, 1e9);
  EXPECT_DOUBLE_EQ(acc.layer_overhead_cycles, 100);
  // depthwise_conv lists W8A8 only; an op without weights only needs the activation format, and
  // both candidates have int8 activations.
  EXPECT_EQ(acc.accepted_candidates("depthwise_conv", "Conv", true),
            (std::vector<bool>{true, false}));
  EXPECT_EQ(acc.accepted_candidates("depthwise_conv", "Foo", false),
            (std::vector<bool>{true, true}));
}

TEST(AcceleratorLoader, UnknownKey) {
  // Line 3 of the description is "latency_model: roofline"; the typo goes in front of it.
  const auto msg =
      load_error(edited("latency_model: roofline\n", "clock_ghz: 1\nlatency_model: roofline\n"));
  EXPECT_NE(msg.find("acc.yaml:3: clock_ghz: unknown key"), std::string::npos) << msg;
}

TEST(AcceleratorLoader, UnknownNestedKey) {
  const auto msg =
      load_error(edited("  - {name: sram, capacity_kib: 1,", "  - {name: sram, capcity_kib: 1,"));
  EXPECT_NE(msg.find("acc.yaml:16: memory[0].capcity_kib: unknown key"), std::string::npos) << msg;
  EXPECT_NE(msg.find("memory[0].capacity_kib: missing required key"), std::string::npos) << msg;
}

TEST(AcceleratorLoader, MissingKey) {
  const auto msg = load_error(edited("name: test-roofline\n", ""));
  EXPECT_NE(msg.find("acc.yaml:1: name: missing required key"), std::string::npos) << msg;
}

TEST(AcceleratorLoader, WrongType) {
  const auto msg = load_error(edited("clock_mhz: 1000", "clock_mhz: fast"));
  EXPECT_NE(msg.find("acc.yaml:2: clock_mhz: expected a number > 0, got 'fast'"), std::string::npos)
      << msg;
  const auto list = load_error(edited("    candidates: [W8A8]", "    candidates: W8A8"));
  EXPECT_NE(
      list.find("acc.yaml:12: op_classes.depthwise_conv.candidates: expected a non-empty list"),
      std::string::npos)
      << list;
}

TEST(AcceleratorLoader, ZeroAndNegativeThroughput) {
  const auto zero = load_error(edited("{W8A8: 100, W4A8: 200}", "{W8A8: 0, W4A8: 200}"));
  EXPECT_NE(
      zero.find("acc.yaml:10: op_classes.default.macs_per_cycle.W8A8: must be a number > 0, got 0"),
      std::string::npos)
      << zero;
  const auto neg = load_error(edited("bandwidth_gb_per_s: 1,", "bandwidth_gb_per_s: -1,"));
  EXPECT_NE(neg.find("acc.yaml:17: memory[1].bandwidth_gb_per_s: must be a number > 0, got -1"),
            std::string::npos)
      << neg;
}

TEST(AcceleratorLoader, UndeclaredCandidate) {
  const auto msg =
      load_error(edited("{W8A8: 1.0, W4A8: 0.5}", "{W8A8: 1.0, W4A8: 0.5, W2A2: 0.1}"));
  EXPECT_NE(msg.find("acc.yaml:14: energy_pj_per_mac.W2A2: candidate 'W2A2' is not declared"),
            std::string::npos)
      << msg;
  const auto in_list = load_error(edited("    candidates: [W8A8]", "    candidates: [W8A16]"));
  EXPECT_NE(in_list.find("acc.yaml:12: op_classes.depthwise_conv.candidates[0]: candidate 'W8A16' "
                         "is not declared"),
            std::string::npos)
      << in_list;
}

TEST(AcceleratorLoader, OtherMistakes) {
  // A candidate name that does not match its formats.
  EXPECT_NE(load_error(edited("W4A8: {weights: int4", "W4A8: {weights: int2"))
                .find("acc.yaml:7: candidates.W4A8: the name does not match its formats"),
            std::string::npos);
  // A section for a latency model that is not selected.
  EXPECT_NE(load_error(std::string(test::kRooflineYaml) + "systolic: {rows: 4}\n")
                .find("systolic: given, but latency_model is 'roofline'"),
            std::string::npos);
  // A throughput missing for a supported candidate.
  EXPECT_NE(load_error(edited("{W8A8: 100, W4A8: 200}", "{W8A8: 100}"))
                .find("op_classes.conv.macs_per_cycle.W4A8: missing"),
            std::string::npos);
  // An unknown op class.
  EXPECT_NE(load_error(edited("  depthwise_conv:", "  depthwise:"))
                .find("acc.yaml:11: op_classes.depthwise: unknown key"),
            std::string::npos);
  // Not YAML at all.
  EXPECT_NE(load_error("name: [unclosed\n").find("acc.yaml:"), std::string::npos);
}

TEST(Candidate, NamesAndOrder) {
  auto w4a8 = parse_candidate("W4A8");
  auto fp = parse_candidate("Wfp16Afp16");
  auto fp8 = parse_candidate("Wfp8e4m3Afp8e4m3");
  ASSERT_TRUE(w4a8 && fp && fp8);
  EXPECT_EQ(w4a8->weight.bits, 4);
  EXPECT_TRUE(fp->activation.is_float());
  EXPECT_EQ(fp8->weight.name(), "fp8e4m3");
  EXPECT_FALSE(parse_candidate("W1A8"));
  EXPECT_FALSE(parse_candidate("W8A17"));
  EXPECT_FALSE(parse_candidate("W8"));
  // BOPs per MAC: fp16 counts 16 x sqrt(1.5) bits each: 256 x 1.5 = 384 > W16A16's 256.
  EXPECT_NEAR(fp->bops_per_mac(), 384, 1e-9);
  auto w16a16 = *parse_candidate("W16A16"), w8a16 = *parse_candidate("W8A16"),
       w16a8 = *parse_candidate("W16A8");
  EXPECT_TRUE(higher_precision(*fp, w16a16));
  EXPECT_TRUE(higher_precision(w16a16, w8a16));
  EXPECT_TRUE(higher_precision(w8a16, w16a8));  // same BOPs, more activation bits
  EXPECT_TRUE(higher_precision(w16a8, *w4a8));
}

}  // namespace
}  // namespace mpq
