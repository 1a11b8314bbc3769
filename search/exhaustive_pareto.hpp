#pragma once
// Ground truth for small problems: enumerate every configuration and keep the Pareto set of
// (cost, loss): the configurations no other configuration beats on one without losing on the
// other. Costs and losses are computed directly (config_cost, config_loss), as the other
// searches report them, so optima compare exactly.
#include <cstddef>
#include <optional>
#include <vector>

#include "core/result.hpp"
#include "mp_problem.hpp"

namespace mpq {

// 2^24 configurations (4 options x 12 groups) take a few seconds and O(Pareto set) memory.
inline constexpr std::size_t kExhaustiveLimit = std::size_t{1} << 24;

// Sorted by cost ascending, loss strictly descending; of configurations with identical (cost,
// loss) the first in enumeration order (group 0 varying slowest) is kept. Errors: an invalid
// problem; more than `max_configs` configurations (the message says how many there are).
Result<std::vector<PricedConfig>> exhaustive_pareto(const MpProblem& p,
                                                    std::size_t max_configs = kExhaustiveLimit);

// The Pareto point with the least loss among those costing at most `budget`; nullopt if none.
std::optional<PricedConfig> best_within(const std::vector<PricedConfig>& pareto, double budget);

}  // namespace mpq
