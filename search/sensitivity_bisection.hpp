#pragma once
// Schaefer et al.'s bisection: sort the groups by sensitivity (least sensitive first) and
// binary-search the longest prefix of that order that can be lowered (each group to its target
// option, every other group at the baseline) with the evaluated accuracy still >= the bound.
// Same bracket as binary_search_bound: at most ceil(log2 (L + 1)) + 2 evaluations for L groups.
#include <cstddef>
#include <vector>

#include "core/result.hpp"
#include "memoized_evaluator.hpp"
#include "mp_problem.hpp"

namespace mpq {

struct Lowering {
  int group = 0;
  int option = 0;          // the option the group is lowered to
  double sensitivity = 0;  // larger = more sensitive (e.g. the MpOption's loss)
};

struct BisectionResult {
  bool met = false;             // false: even the baseline misses the bound (config = baseline)
  std::size_t lowered = 0;      // length of the prefix of `order` that is lowered
  std::vector<Lowering> order;  // least sensitive first (ties: lower group index)
  MpConfig config;
  double accuracy = 0;          // evaluated accuracy of `config`
  std::size_t evaluations = 0;  // distinct prefixes evaluated
};

// Errors: an invalid problem or lowering, a group lowered twice, a non-finite sensitivity.
Result<BisectionResult> sensitivity_bisection(const MpProblem& p, std::vector<Lowering> lowerings,
                                              MemoizedEvaluator& evaluate, double bound);

}  // namespace mpq
