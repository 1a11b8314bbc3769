#pragma once
// Phase 1 (Pandey et al.): for every quantizer group and every candidate other than the
// baseline, quantize only that group at that candidate (everything else float, or at the
// baseline), calibrate its ranges and score the network against its float output.
//
// Work that does not change is done once: the float reference outputs; the activation
// histograms (ranges come from the float network, as the reference tools calibrate); the
// baseline configuration; and, per group, the network prefix that runs before the group's
// first quantizer: it is computed once per batch and shared by all the group's candidates.
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/candidate.hpp"
#include "rounded_weights.hpp"
#include "sim/calibration.hpp"
#include "sim/quant_metrics.hpp"

namespace mpq {

enum class SweepMode : std::uint8_t {
  OthersFloat,     // the reference tool's default
  OthersBaseline,  // everything else at the baseline candidate
};

struct SweepGroup {
  std::string name;
  std::string id;  // name@hash of its quantizer names: a group merged differently differs
  std::vector<std::size_t> quantizers;  // indices into QuantizerPlacement::quantizers
  Candidate baseline;
  std::vector<Candidate> candidates;  // to sweep: the supported ones other than the baseline
};

struct SweepInputs {
  const Network* net = nullptr;
  const QuantizerPlacement* placement = nullptr;
  std::vector<SweepGroup> groups;
  SweepMode mode = SweepMode::OthersFloat;
  RangeSettings ranges;
  const SampleSource* samples = nullptr;
  std::int64_t limit = 256;  // samples used
  std::int64_t batch = 64;
  const ActivationStats* stats = nullptr;  // histograms over the same samples
  // AdaRound's integers per (weight, format), spliced into every task; null: round to nearest.
  const RoundedWeights* rounded = nullptr;
  // Score by the first-order Taylor metric only (search/fisher_sweep.hpp): no task runs the
  // quantized network.
  bool fisher = false;
};

struct TaskResult {
  std::size_t group = 0;
  Candidate candidate;
  QuantMetrics metrics;
  double eagl = 0;  // bits - entropy of the group's quantized weights; NaN without int weights
  // First-order Taylor loss change squared, summed over samples (search/fisher_sweep.hpp);
  // NaN unless the sweep ran with the fisher metric.
  double fisher = std::numeric_limits<double>::quiet_NaN();
};

// (group index, candidate) of tasks already done (from the journal).
using TaskKeys = std::set<std::pair<std::size_t, Candidate>>;

struct SweepCallbacks {
  // Called once per finished task, never concurrently: journal it here.
  std::function<void(const TaskResult&)> task_done;
};

// Runs the tasks not in `done`, in parallel over groups (TBB); kernels run in parallel inside.
// Each task's result depends only on its inputs, never on the thread count or order.
Result<std::vector<TaskResult>> run_sweep(const SweepInputs& in, const TaskKeys& done,
                                          const SweepCallbacks& cb);

// Calibrated quantizer settings by (quantizer index, format name): a group's candidates often
// share a weight or an activation format, and the MSE range searches are not free.
using SettingCache = std::map<std::pair<std::size_t, std::string>, QuantizerSetting>;

// The configuration one task runs: `others` (empty in OthersFloat mode) with group g at c,
// calibrated from `in.stats` (through `cache` when given). Exposed so reference
// implementations can replay a task.
QuantConfig sweep_task_config(const SweepInputs& in, const QuantConfig& others, const SweepGroup& g,
                              const Candidate& c, SettingCache* cache = nullptr);

std::int64_t count_tasks(const std::vector<SweepGroup>& groups);

// EAGL (Bablani et al.): entropy in bits of the histogram of integer codes of the group's
// weights under `cfg` (the task's configuration, whose ranges are already calibrated);
// score = bits - H. NaN for float formats or groups without weights.
double eagl_score(const Network& net, const QuantizerPlacement& p, const SweepGroup& g,
                  const Candidate& c, const QuantConfig& cfg);

}  // namespace mpq
