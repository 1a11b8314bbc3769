#include "systolic_model.hpp"

#include <algorithm>
#include <cassert>

namespace mpq::hw {
namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

SystolicMapping map_gemm(const SystolicArray& a, std::int64_t m, std::int64_t n, std::int64_t k) {
  assert(a.rows > 0 && a.cols > 0 && m > 0 && n > 0 && k > 0);
  const std::int64_t r = a.rows, c = a.cols;
  SystolicMapping s;
  switch (a.dataflow) {
    case Dataflow::OutputStationary:
      s.sr = m, s.sc = n, s.t = k;
      break;
    case Dataflow::WeightStationary:
      s.sr = k, s.sc = n, s.t = m;
      break;
    case Dataflow::InputStationary:
      s.sr = k, s.sc = m, s.t = n;
      break;
  }
  s.row_folds = ceil_div(s.sr, r);
  s.col_folds = ceil_div(s.sc, c);
  s.cycles_per_fold =
      a.dataflow == Dataflow::OutputStationary ? s.t + r + c - 2 : 2 * r + c + s.t - 2;
  return s;
}

SystolicRun systolic_run(const SystolicArray& a, const LayerWorkload& w, const OperandFormats& f,
                         double dram_bytes_per_cycle) {
  const SystolicMapping s = map_gemm(a, w.gemm_m, w.gemm_n, w.gemm_k);
  const double count = static_cast<double>(w.gemm_count);
  const double m = static_cast<double>(w.gemm_m), n = static_cast<double>(w.gemm_n),
               k = static_cast<double>(w.gemm_k);
  const double ib = f.inputs.storage_bits() / 8.0, wb = f.weights.storage_bits() / 8.0,
               ob = f.outputs.storage_bits() / 8.0;
  // Operand reads/writes between the array and SRAM, counted like SCALE-Sim's demand matrices:
  // the im2col'ed input is re-read once per fold along the dimension it is not reused in.
  double ifmap_passes = 1, filter_passes = 1, ofmap_passes = 1;  // re-fetches when not resident
  switch (a.dataflow) {
    case Dataflow::WeightStationary:
      ifmap_passes = static_cast<double>(s.col_folds);
      ofmap_passes = static_cast<double>(s.row_folds);
      break;
    case Dataflow::OutputStationary:
      ifmap_passes = static_cast<double>(s.col_folds);
      filter_passes = static_cast<double>(s.row_folds);
      break;
    case Dataflow::InputStationary:
      filter_passes = static_cast<double>(s.col_folds);
      ofmap_passes = static_cast<double>(s.row_folds);
      break;
  }
  SystolicRun run;
  run.ifmap_reads = count * m * k * ifmap_passes;
  run.filter_reads = count * k * n * filter_passes;
  run.ofmap_writes = count * m * n * ofmap_passes;
  run.compute_cycles = count * static_cast<double>(s.compute_cycles());
  run.sram_bytes = run.ifmap_reads * ib + run.filter_reads * wb + run.ofmap_writes * ob;
  // (ours) DRAM: an operand that fits its SRAM is fetched (or written back) once; one that does
  // not is fetched again on every pass over it.
  const double in_bytes = static_cast<double>(w.input_elements) * ib;
  const double wt_bytes = static_cast<double>(w.weight_elements) * wb;
  const double out_bytes = static_cast<double>(w.output_elements) * ob;
  auto dram = [](double bytes, double sram, double passes) {
    return bytes <= sram ? bytes : bytes * passes;
  };
  run.dram_bytes = dram(in_bytes, a.ifmap_sram_bytes, ifmap_passes) +
                   dram(wt_bytes, a.filter_sram_bytes, filter_passes) +
                   dram(out_bytes, a.ofmap_sram_bytes, ofmap_passes);
  // (ours) Double-buffered SRAMs prefetch the next fold while this one computes; a fold whose
  // share of the DRAM traffic takes longer than its P cycles stalls for the difference.
  const double folds = count * static_cast<double>(s.folds());
  const double fetch_cycles_per_fold = run.dram_bytes / folds / dram_bytes_per_cycle;
  run.stall_cycles =
      folds * std::max(0.0, fetch_cycles_per_fold - static_cast<double>(s.cycles_per_fold));
  return run;
}

}  // namespace mpq::hw
