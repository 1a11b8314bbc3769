#pragma once
// Small accelerator descriptions with round numbers, so expected costs can be worked out by hand.
#include <gtest/gtest.h>

#include <string>

#include "hw/accelerator_loader.hpp"
#include "hw/layer_workload.hpp"
#include "search/hardware_groups.hpp"

namespace mpq::test {

// 1 GHz (1 cycle = 1 ns); 1 KiB on-chip SRAM at 10 GB/s (10 B/ns), DRAM at 1 GB/s (1 B/ns).
inline const char* kRooflineYaml = R"(name: test-roofline
clock_mhz: 1000
latency_model: roofline
layer_overhead_cycles: 100
candidates:
  W8A8: {weights: int8, activations: int8}
  W4A8: {weights: int4, activations: int8}
op_classes:
  default:
    macs_per_cycle: {W8A8: 100, W4A8: 200}
  depthwise_conv:
    candidates: [W8A8]
    macs_per_cycle: {W8A8: 10}
energy_pj_per_mac: {W8A8: 1.0, W4A8: 0.5}
memory:
  - {name: sram, capacity_kib: 1, bandwidth_gb_per_s: 10, energy_pj_per_byte: 2}
  - {name: dram, bandwidth_gb_per_s: 1, energy_pj_per_byte: 100}
)";

inline hw::Accelerator parse_or_die(const std::string& yaml,
                                    const std::string& path = "test.yaml") {
  auto acc = hw::parse_accelerator(yaml, path, fusion_op_kind);
  EXPECT_TRUE(acc.ok()) << acc.error().message;
  return acc.ok() ? std::move(acc).value() : hw::Accelerator{};
}

// 3x3 conv, 4 -> 8 channels, 6x6 input (no padding) -> 4x4 output.
// M = 16 pixels, N = 8 filters, K = 3*3*4 = 36; MACs = 16*8*36 = 4608.
inline hw::LayerWorkload small_conv() {
  hw::LayerWorkload w;
  w.name = "conv";
  w.op_class = "conv";
  w.gemm_m = 16, w.gemm_n = 8, w.gemm_k = 36, w.gemm_count = 1;
  w.macs = 4608;
  w.weight_elements = 8 * 4 * 3 * 3;  // 288
  w.input_elements = 4 * 6 * 6;       // 144
  w.output_elements = 8 * 4 * 4;      // 128
  return w;
}

// 3x3 depthwise conv over 16 channels, 10x10 input -> 8x8 output: 16 GEMMs of M = 64, N = 1,
// K = 9; MACs = 16*64*9 = 9216.
inline hw::LayerWorkload small_depthwise() {
  hw::LayerWorkload w;
  w.name = "dw";
  w.op_class = "depthwise_conv";
  w.gemm_m = 64, w.gemm_n = 1, w.gemm_k = 9, w.gemm_count = 16;
  w.macs = 9216;
  w.weight_elements = 16 * 9;       // 144
  w.input_elements = 16 * 10 * 10;  // 1600
  w.output_elements = 16 * 8 * 8;   // 1024
  return w;
}

// Fully connected 256 -> 10 at batch 1: M = 1, N = 10, K = 256; MACs = 2560.
inline hw::LayerWorkload small_gemm() {
  hw::LayerWorkload w;
  w.name = "fc";
  w.op_class = "gemm";
  w.gemm_m = 1, w.gemm_n = 10, w.gemm_k = 256, w.gemm_count = 1;
  w.macs = 2560;
  w.weight_elements = 2560;
  w.input_elements = 256;
  w.output_elements = 10;
  return w;
}

}  // namespace mpq::test
