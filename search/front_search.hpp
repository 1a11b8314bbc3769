#pragma once
// Accuracy-bound searches over a front (Pandey et al. phase 2, step 5): the cheapest point whose
// evaluated accuracy is at least `bound`. Points run from the start (the baseline, most accurate)
// to the cheapest, accuracy roughly decreasing.
//
// - Binary search: checks the cheapest point, then the start, then bisects between the last point
//   known to meet the bound and the first known not to: at most ceil(log2 N) + 2 evaluations.
//   It returns a point that meets the bound whose successor does not; on a non-monotone front
//   that boundary need not be the cheapest point meeting the bound.
// - Interpolation search: the same bracket, probing where the straight line between the
//   bracket's accuracies crosses the bound; a probe that fails to halve the bracket makes the
//   next probe a bisection, so it never needs more than about twice the binary search's count.
// - Brute force: evaluates every point, returns the cheapest meeting the bound (ties: higher
//   accuracy, then the earlier point).
// - First meeting (the reverse variant's search): evaluates points in order, returns the first
//   that meets the bound; on a reverse front that is the cheapest end walking up to the baseline.
//
// When no evaluated point meets the bound, met = false and the result is the baseline: point 0
// for the forward searches, the last point for first_meeting_front (the reverse front ends there).
#include <cstddef>
#include <functional>

#include "memoized_evaluator.hpp"
#include "mp_front.hpp"

namespace mpq {

struct BoundSearchResult {
  bool met = false;
  std::size_t point = 0;
  double accuracy = 0;          // evaluated accuracy of `point`
  std::size_t evaluations = 0;  // distinct points this search asked for
};

// The searches over indices 0..n-1 (n >= 1); `accuracy_of(i)` evaluates point i.
using PointAccuracy = std::function<double(std::size_t point)>;
BoundSearchResult binary_search_bound(std::size_t n, const PointAccuracy& accuracy_of,
                                      double bound);
BoundSearchResult interpolation_search_bound(std::size_t n, const PointAccuracy& accuracy_of,
                                             double bound);

// The same over a front, evaluating points' configurations through `evaluate` (shared between
// searches, so a point one search evaluated costs the next nothing; `evaluations` still counts
// it, as what the search needs on its own). An evaluation that fails is the search's error.
Result<BoundSearchResult> binary_search_front(const MpFront& front, MemoizedEvaluator& evaluate,
                                              double bound);
Result<BoundSearchResult> interpolation_search_front(const MpFront& front,
                                                     MemoizedEvaluator& evaluate, double bound);
Result<BoundSearchResult> brute_force_front(const MpFront& front, MemoizedEvaluator& evaluate,
                                            double bound);
Result<BoundSearchResult> first_meeting_front(const MpFront& front, MemoizedEvaluator& evaluate,
                                              double bound);

}  // namespace mpq
