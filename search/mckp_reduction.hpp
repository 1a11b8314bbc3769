#pragma once
// Exact problem reduction for the budget ILP (multiple-choice knapsack), so GLPK's branch and
// bound only sees the few groups whose choice is in doubt.
//
// 1. The LP relaxation by the classic greedy: per group, the lower convex hull of its options in
//    (cost, loss); from every group at its least-loss option, take hull segments in order of loss
//    added per unit of cost saved until the budget is met. The segment that meets it gives the
//    multiplier lambda (the LP dual of the budget row), and taking it whole gives a feasible
//    configuration: the incumbent, whose loss is an upper bound UB.
// 2. Lagrangian bound: for any lambda >= 0 and any configuration x within the budget,
//      loss(x) >= L(lambda) + sum_g rc_g(x_g),   L(lambda) = sum_g min_o (loss + lambda cost)
//                                                            - lambda (budget - base_cost),
//    with the reduced cost rc_g(o) = loss + lambda cost - min_o' (loss + lambda cost) >= 0.
//    An option with rc_g(o) > UB - L(lambda) can only be in configurations worse than the
//    incumbent, so dropping it keeps an optimum (a small margin covers rounding).
// Dominated options (another option of the group costs no more and loses no more) are dropped too.
#include <vector>

#include "mp_problem.hpp"

namespace mpq {

struct MckpReduction {
  std::vector<std::vector<int>> kept;  // per group, the options that may be optimal (never empty)
  PricedConfig incumbent;              // within the budget
  double lambda = 0;
  double lower_bound = 0;  // L(lambda) <= the optimal loss
};

// `p` valid and `budget` at least the cheapest cost (check_budget).
MckpReduction reduce_mckp(const MpProblem& p, double budget);

}  // namespace mpq
