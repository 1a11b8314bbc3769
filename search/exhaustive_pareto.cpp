#include "exhaustive_pareto.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <string>

namespace mpq {
namespace {

// Advances `config` like an odometer (last group fastest); false after the last configuration.
bool next_config(const MpProblem& p, MpConfig& config) {
  for (std::size_t g = config.size(); g-- > 0;) {
    if (static_cast<std::size_t>(++config[g]) < p.groups[g].size()) return true;
    config[g] = 0;
  }
  return false;
}

}  // namespace

Result<std::vector<PricedConfig>> exhaustive_pareto(const MpProblem& p, std::size_t max_configs) {
  if (auto s = validate_problem(p); !s) return s.error();
  const std::size_t n = count_configs(p);
  if (n > max_configs)
    return make_error(
        "exhaustive enumeration: " + std::to_string(p.groups.size()) + " groups have " +
        (n == static_cast<std::size_t>(-1) ? std::string("more than 2^64") : std::to_string(n)) +
        " configurations, over the limit of " + std::to_string(max_configs) +
        "; use the ILP (solve_budget_ilp) instead");
  // The staircase: cost -> the Pareto point of that cost; losses strictly decrease with cost.
  std::map<double, PricedConfig> stairs;
  MpConfig config = baseline_options(p);
  do {
    const double cost = config_cost(p, config), loss = config_loss(p, config);
    auto above = stairs.upper_bound(cost);  // first point costing more
    if (above != stairs.begin() && std::prev(above)->second.loss <= loss) continue;  // dominated
    // Drop the points this one dominates: cost >= its cost and loss >= its loss.
    auto first = stairs.lower_bound(cost), last = first;
    while (last != stairs.end() && last->second.loss >= loss) ++last;
    stairs.erase(first, last);
    stairs.emplace(cost, PricedConfig{config, cost, loss});
  } while (next_config(p, config));
  std::vector<PricedConfig> pareto;
  pareto.reserve(stairs.size());
  for (auto& [cost, point] : stairs) pareto.push_back(std::move(point));
  return pareto;
}

std::optional<PricedConfig> best_within(const std::vector<PricedConfig>& pareto, double budget) {
  // Losses fall as cost rises, so the best is the last point within the budget.
  auto it = std::upper_bound(pareto.begin(), pareto.end(), budget,
                             [](double b, const PricedConfig& q) { return b < q.cost; });
  if (it == pareto.begin()) return std::nullopt;
  return *std::prev(it);
}

}  // namespace mpq
