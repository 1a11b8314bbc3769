#pragma once
// A systolic array of R x C MAC units, as SCALE-Sim v2 counts it (ALGORITHMS.md, Hardware models).
// A GEMM (M x K) . (K x N) maps onto the array as Sr x Sc spatially and T in time:
//   output stationary: Sr = M (output pixels), Sc = N (filters), T = K (window)
//   weight stationary: Sr = K,                 Sc = N,           T = M
//   input stationary:  Sr = K,                 Sc = M,           T = N
// folds = ceil(Sr / R) x ceil(Sc / C); each fold is filled and drained before the next:
//   compute cycles = folds x P - 1,  P = T + R + C - 2 (OS) or 2R + C + T - 2 (WS, IS).
// (ours) SRAM and DRAM traffic, and stalls: see systolic_run().
#include <cstdint>

#include "accelerator.hpp"
#include "layer_workload.hpp"

namespace mpq::hw {

struct SystolicMapping {
  std::int64_t sr = 0, sc = 0, t = 0;
  std::int64_t row_folds = 0, col_folds = 0;
  std::int64_t cycles_per_fold = 0;  // P
  std::int64_t folds() const { return row_folds * col_folds; }
  std::int64_t compute_cycles() const { return folds() * cycles_per_fold - 1; }
};

SystolicMapping map_gemm(const SystolicArray& a, std::int64_t m, std::int64_t n, std::int64_t k);

struct SystolicRun {
  double compute_cycles = 0;  // gemm_count x (folds x P - 1)
  double stall_cycles = 0;    // folds whose DRAM operands could not be prefetched in P cycles
  // Operand elements moved between the array and SRAM (SCALE-Sim's SRAM reads and writes).
  double ifmap_reads = 0, filter_reads = 0, ofmap_writes = 0;
  double sram_bytes = 0;  // array <-> SRAM: the three above at their formats' widths
  double dram_bytes = 0;  // SRAM <-> DRAM
};

// dram_bytes_per_cycle: the off-chip bandwidth in bytes per array clock.
SystolicRun systolic_run(const SystolicArray& a, const LayerWorkload& w, const OperandFormats& f,
                         double dram_bytes_per_cycle);

}  // namespace mpq::hw
