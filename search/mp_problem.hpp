#pragma once
// The phase-2 problem, independent of the network: G groups, each with a list of options (option
// 0 is the group's baseline). Choosing option o for group g adds loss(g, o) to the predicted loss
// and cost_delta(g, o) to the cost of the baseline configuration; both are additive over groups.
//
// The lead builds it from phase 1 (loss = 10^(-SQNR/10), or EAGL; cost deltas from
// CostTable::delta at the baseline). Additivity is exact for BOPs and memory and an
// approximation for latency and energy, so chosen configurations are re-priced exactly.
#include <cstddef>
#include <vector>

#include "core/result.hpp"

namespace mpq {

struct MpOption {
  double loss = 0;        // >= 0; 0 for the baseline option
  double cost_delta = 0;  // relative to the baseline configuration; negative saves; 0 for option 0
};

struct MpProblem {
  double base_cost = 0;  // cost of the configuration with every group at option 0
  std::vector<std::vector<MpOption>> groups;
};

// An option index per group (into MpProblem::groups[g]). Its own type: a GroupConfig (candidate
// indices) is a vector of ints too, and must not be passed for one.
struct MpConfig : std::vector<int> {
  using std::vector<int>::vector;
};

// One step of a walk: set `group` to `option`.
struct OptionChange {
  int group = 0;
  int option = 0;
};

// Every group has at least one option; option 0 has loss 0 and cost delta 0; losses are >= 0;
// every number is finite.
Status validate_problem(const MpProblem& p);
// `change` names an existing group and option of `p`.
Status validate_change(const MpProblem& p, const OptionChange& change);

// Every group at option 0, its baseline.
MpConfig baseline_options(const MpProblem& p);
// Per group the option with the lowest cost delta (ties: the lower loss, then the lower index).
MpConfig cheapest_config(const MpProblem& p);

// base_cost + the sum of the chosen options' cost deltas, summed in group order.
double config_cost(const MpProblem& p, const MpConfig& config);
// The sum of the chosen options' losses, in group order.
double config_loss(const MpProblem& p, const MpConfig& config);

// A configuration with its predicted (additive) cost and loss.
struct PricedConfig {
  MpConfig config;
  double cost = 0;
  double loss = 0;
};
PricedConfig priced(const MpProblem& p, MpConfig config);

// An error when `budget` is below the cheapest achievable cost (it says what that cost is), or
// not finite.
Status check_budget(const MpProblem& p, double budget);

// The number of configurations (product of option counts), saturating at SIZE_MAX.
std::size_t count_configs(const MpProblem& p);

}  // namespace mpq
