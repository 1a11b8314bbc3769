#pragma once
// One accelerator as phase 2 sees it: per quantizer group the options it may take (candidate
// indices: its baseline first, then the supported candidates phase 1 measured), the formats a
// configuration of those options gives each quantizer, and the phase-2 problem built on them.
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config_evaluator.hpp"
#include "mp_problem.hpp"
#include "phase1.hpp"

namespace mpq {

// Phase 1's tasks by (union group, candidate). A failed task (its run broke) is left out: no
// front, search or budget point uses it.
using TaskIndex = std::map<std::pair<std::size_t, Candidate>, const TaskResult*>;
TaskIndex usable_tasks(const SensitivityList& list);

struct AcceleratorOptions {
  const AcceleratorView* view = nullptr;
  std::vector<std::vector<int>> options;  // per group: candidate indices, [0] = baseline
  std::map<std::size_t, std::size_t> group_of_union;  // Phase1Context::groups index -> its group

  // The candidate option `option` of group `g` stands for.
  const Candidate& candidate(std::size_t g, int option) const {
    return view->acc
        .candidates[static_cast<std::size_t>(options[g][static_cast<std::size_t>(option)])];
  }
};

AcceleratorOptions accelerator_options(const AcceleratorView& view, const TaskIndex& tasks);

// The format of every quantizer of `placement` under `cfg` (Float32 outside the groups).
FormatAssignment assignment_of(const QuantizerPlacement& placement, const AcceleratorOptions& s,
                               const MpConfig& cfg);

// The accelerator's configuration that gives these formats, if its groups allow it.
std::optional<GroupConfig> config_on(const QuantizerPlacement& placement,
                                     const AcceleratorOptions& s, const FormatAssignment& f);

// Per group and option, the phase-1 loss by `metric` and the exact cost delta in `cost_metric`.
MpProblem phase2_problem(const AcceleratorOptions& s, const TaskIndex& tasks,
                         SensitivityMetric metric, const std::string& cost_metric);

// The sorted sensitivity list restricted to this accelerator's groups and options.
std::vector<OptionChange> sorted_changes(const SensitivityList& list, const AcceleratorOptions& s);

// Every group at `c` where it has that option, else at its baseline (`unsupported` counts those).
struct HomogeneousConfig {
  MpConfig config;
  std::size_t unsupported = 0;
};
HomogeneousConfig homogeneous_config(const AcceleratorOptions& s, const Candidate& c);

}  // namespace mpq
