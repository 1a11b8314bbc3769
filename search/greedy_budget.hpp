#pragma once
// The greedy budget heuristic (Schaefer et al.'s greedy, and the usual knapsack heuristic): from
// the baseline, repeatedly move the one group whose move adds the least loss per unit of cost
// saved (to any of its options cheaper than its current one), until no move saves cost. Each move
// is a point of the greedy front; for a budget, the first point within it is the answer.
// Ties: the lower ratio, then the larger saving, then the lower group, then the lower option.
#include "core/result.hpp"
#include "mp_front.hpp"
#include "mp_problem.hpp"

namespace mpq {

// From the baseline to the cheapest configuration. Errors: an invalid problem.
Result<MpFront> greedy_budget_front(const MpProblem& p);

// The first greedy point whose cost is within `budget`. Errors: an invalid problem; a budget
// below the cheapest achievable cost (the message states that cost).
Result<PricedConfig> greedy_budget(const MpProblem& p, double budget);

}  // namespace mpq
