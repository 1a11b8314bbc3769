#pragma once
// Pandey et al. phase 2: the front of the sorted sensitivity list. Forward: start at the baseline
// and apply the list cumulatively, most robust entry first (an entry overrides an earlier entry of
// the same group); each step is a point, from the baseline towards the cheapest. Reverse: start
// with every listed group at its lowest (cheapest listed) option and raise the most sensitive
// groups first: walk the list from the end, undoing each entry (its group goes back to the option
// an earlier entry of that group set, or to the baseline); from the cheapest to the baseline.
#include <vector>

#include "core/result.hpp"
#include "mp_front.hpp"
#include "mp_problem.hpp"

namespace mpq {

// `sorted_list`: (group, option) entries, most robust first. Errors: an invalid problem or entry.
Result<MpFront> sensitivity_front(const MpProblem& p, const std::vector<OptionChange>& sorted_list);
Result<MpFront> reverse_sensitivity_front(const MpProblem& p,
                                          const std::vector<OptionChange>& sorted_list);

}  // namespace mpq
