// The systolic model against figures SCALE-Sim itself published: the golden outputs its CI diffs
// every run against.
// - scale-sim-v2 (github.com/scalesim-project/scale-sim-v2, commit 22f88b1):
//   test/golden_trace/{COMPUTE,DETAILED_ACCESS}_REPORT.csv, made by test/scripts/function_test.sh:
//   topologies/conv_nets/alexnet_part.csv (AlexNet Conv1) on configs/scale.cfg, a 32 x 32 array
//   switched to weight stationary.
// - scale-sim-v3 (github.com/scalesim-project/scale-sim-v3, commit fab89b7):
//   test/general/golden_trace_user_{ws,os,is}/{COMPUTE,DETAILED_ACCESS}_REPORT.csv, made by
//   test/general/scripts/diff_user_{ws,os,is}.sh: topologies/GEMM_mnk/test_mnk_input.csv
//   (M 256, N 128, K 256) on the same 32 x 32 array in each dataflow, with a user-set DRAM
//   bandwidth. There "Total Cycles" includes DRAM stalls; compute cycles = total - stall cycles.
// SRAM reads and writes are the DETAILED_ACCESS_REPORT's SRAM IFMAP/Filter reads and OFMAP writes.
#include <gtest/gtest.h>

#include "hw/scalesim_topology.hpp"
#include "hw/systolic_model.hpp"

namespace mpq {
namespace {

hw::SystolicArray array32(hw::Dataflow d) {
  hw::SystolicArray a;
  a.rows = 32, a.cols = 32, a.dataflow = d;
  return a;
}

struct Published {
  std::int64_t compute_cycles;
  double ifmap_reads, filter_reads, ofmap_writes;
};

hw::LayerWorkload only_layer(const char* topology) {
  auto layers = hw::parse_scalesim_topology(topology, "topology.csv");
  EXPECT_TRUE(layers.ok()) << layers.error().message;
  EXPECT_EQ(layers->size(), 1U);
  return layers->front();
}

void expect_published(const hw::LayerWorkload& w, hw::Dataflow d, const Published& p) {
  const hw::SystolicArray a = array32(d);
  EXPECT_EQ(hw::map_gemm(a, w.gemm_m, w.gemm_n, w.gemm_k).compute_cycles(), p.compute_cycles);
  const hw::SystolicRun run = hw::systolic_run(a, w, hw::OperandFormats{}, 10.0);
  EXPECT_EQ(run.compute_cycles, static_cast<double>(p.compute_cycles));
  EXPECT_EQ(run.ifmap_reads, p.ifmap_reads);
  EXPECT_EQ(run.filter_reads, p.filter_reads);
  EXPECT_EQ(run.ofmap_writes, p.ofmap_writes);
}

// alexnet_part.csv, as SCALE-Sim ships it.
const char* kAlexNetConv1 =
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
    "Strides,\nConv1,  224, 224,    11, 11,    3,      96,     4,";

TEST(SystolicShapes, AlexNetConv1WeightStationaryAsScaleSimV2) {
  const hw::LayerWorkload w = only_layer(kAlexNetConv1);
  // COMPUTE_REPORT: Total Cycles 112283, Stall Cycles 0, Mapping Efficiency 94.53125 %.
  // DETAILED_ACCESS_REPORT: SRAM IFMAP Reads 3294225, Filter Reads 34848, OFMAP Writes 3484800.
  expect_published(w, hw::Dataflow::WeightStationary, {112283, 3294225, 34848, 3484800});
  const hw::SystolicMapping m =
      hw::map_gemm(array32(hw::Dataflow::WeightStationary), w.gemm_m, w.gemm_n, w.gemm_k);
  // Mapping efficiency: the share of the array's MAC units the folds hold, Sr x Sc / (folds R C).
  EXPECT_DOUBLE_EQ(static_cast<double>(m.sr * m.sc) / static_cast<double>(m.folds() * 32 * 32),
                   0.9453125);
}

// test_mnk_input.csv's GEMM as SCALE-Sim reads it (topology_utils.py load_arrays_gemm): an
// M x K ifmap under N filters of 1 x K, one channel, stride 1.
const char* kGemm256x128x256 =
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
    "Strides,\nTest 1,256,256,1,256,1,128,1,";

TEST(SystolicShapes, GemmInEachDataflowAsScaleSimV3) {
  const hw::LayerWorkload w = only_layer(kGemm256x128x256);
  ASSERT_EQ(w.gemm_m, 256);
  ASSERT_EQ(w.gemm_n, 128);
  ASSERT_EQ(w.gemm_k, 256);
  // golden_trace_user_ws: 52447 total - 41248 stall cycles; SRAM 262144, 32768, 262144.
  expect_published(w, hw::Dataflow::WeightStationary, {11199, 262144, 32768, 262144});
  // golden_trace_user_is: 19984 total - 5777 stall cycles; SRAM 65536, 262144, 262144.
  expect_published(w, hw::Dataflow::InputStationary, {14207, 65536, 262144, 262144});
  // golden_trace_user_os: 52447 total - 42272 stall cycles; SRAM 262144, 262144 and 34816 OFMAP
  // writes. mpq counts 32768 = M x N: each output leaves the array once. SCALE-Sim's OS
  // create_ofmap_demand_mat adds, after a fold's R x C outputs, the fold's R + C once more
  // (32 folds x 64 = 2048), a count no data movement corresponds to; mpq does not copy it.
  expect_published(w, hw::Dataflow::OutputStationary, {10175, 262144, 262144, 256 * 128});
}

TEST(SystolicShapes, TopologyImport) {
  const char* alexnet =
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
      "Strides,\nConv1,224,224,11,11,3,96,4,\nFC,1,1,1,1,512,1000,1,\n";
  auto layers = hw::parse_scalesim_topology(alexnet, "alexnet.csv");
  ASSERT_TRUE(layers.ok());
  const auto& conv1 = (*layers)[0];
  // AlexNet conv1: 224x224x3 input, 11x11 filters, stride 4: ceil((224 - 11 + 4) / 4) = 55.
  EXPECT_EQ(conv1.op_class, "conv");
  EXPECT_EQ(conv1.gemm_m, 55 * 55);
  EXPECT_EQ(conv1.macs, 55 * 55 * 96 * 363);  // 105,415,200
  EXPECT_EQ(conv1.weight_elements, 11 * 11 * 3 * 96);
  EXPECT_EQ(conv1.input_elements, 224 * 224 * 3);
  EXPECT_EQ((*layers)[1].op_class, "gemm");  // a 1x1 filter over a 1x1 input: fully connected
  auto bad = hw::parse_scalesim_topology(
      "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
      "Strides,\nConv1,224,224,11,11,three,96,4,\n",
      "bad.csv");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "bad.csv:2: Conv1: Channels: expected an integer from 1 to 16777216, got 'three'");
}

}  // namespace
}  // namespace mpq
