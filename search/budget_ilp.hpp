#pragma once
// Selection under a cost budget (Bablani et al., HAWQ-V3): one option per group minimising the
// summed loss subject to base_cost + sum of cost deltas <= budget, a multiple-choice knapsack
// solved exactly as an integer linear program with GLPK: binary x[g][o], sum_o x[g][o] = 1 per
// group, minimise sum loss x, subject to sum cost_delta x <= budget - base_cost.
//
// Before solving, reduce_mckp (mckp_reduction.hpp) drops the options that cannot be optimal
// (dominated, or ruled out by the LP relaxation's Lagrangian bound), which keeps an optimum and
// leaves GLPK only the groups in doubt: thousands of groups solve in well under a second. GLPK is
// single-threaded and deterministic, so the same problem gives the same configuration. The chosen
// configuration's cost is checked in exact (double) arithmetic against the budget, never only
// within GLPK's tolerances.
#include "core/result.hpp"
#include "mp_problem.hpp"

namespace mpq {

// Errors: an invalid problem; a budget below the cheapest achievable cost (the message states
// that cost); GLPK failing to find the optimum.
Result<PricedConfig> solve_budget_ilp(const MpProblem& p, double budget);

}  // namespace mpq
