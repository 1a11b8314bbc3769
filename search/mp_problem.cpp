#include "mp_problem.hpp"

#include <cassert>
#include <cmath>
#include <iomanip>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

namespace mpq {

Status validate_problem(const MpProblem& p) {
  if (!std::isfinite(p.base_cost)) return make_error("phase 2: the baseline cost is not finite");
  for (std::size_t g = 0; g < p.groups.size(); ++g) {
    const auto& options = p.groups[g];
    const std::string where = "phase 2: group " + std::to_string(g);
    if (options.empty()) return make_error(where + " has no options");
    if (options[0].loss != 0 || options[0].cost_delta != 0)
      return make_error(where + ": option 0 (the baseline) must have loss 0 and cost delta 0");
    for (std::size_t o = 0; o < options.size(); ++o) {
      const MpOption& opt = options[o];
      if (!std::isfinite(opt.loss) || !std::isfinite(opt.cost_delta))
        return make_error(where + " option " + std::to_string(o) + " is not finite");
      if (opt.loss < 0)
        return make_error(where + " option " + std::to_string(o) + " has a negative loss");
    }
  }
  return Ok{};
}

Status validate_change(const MpProblem& p, const OptionChange& change) {
  if (change.group < 0 || static_cast<std::size_t>(change.group) >= p.groups.size())
    return make_error("phase 2: group " + std::to_string(change.group) + " does not exist (" +
                      std::to_string(p.groups.size()) + " groups)");
  const auto& options = p.groups[static_cast<std::size_t>(change.group)];
  if (change.option < 0 || static_cast<std::size_t>(change.option) >= options.size())
    return make_error("phase 2: group " + std::to_string(change.group) + " has no option " +
                      std::to_string(change.option) + " (" + std::to_string(options.size()) +
                      " options)");
  return Ok{};
}

MpConfig baseline_options(const MpProblem& p) {
  return MpConfig(p.groups.size(), 0);
}

MpConfig cheapest_config(const MpProblem& p) {
  MpConfig config(p.groups.size(), 0);
  for (std::size_t g = 0; g < p.groups.size(); ++g) {
    const auto& options = p.groups[g];
    for (std::size_t o = 1; o < options.size(); ++o) {
      const MpOption& best = options[static_cast<std::size_t>(config[g])];
      if (options[o].cost_delta < best.cost_delta ||
          (options[o].cost_delta == best.cost_delta && options[o].loss < best.loss))
        config[g] = static_cast<int>(o);
    }
  }
  return config;
}

double config_cost(const MpProblem& p, const MpConfig& config) {
  assert(config.size() == p.groups.size());
  double cost = p.base_cost;
  for (std::size_t g = 0; g < config.size(); ++g)
    cost += p.groups[g][static_cast<std::size_t>(config[g])].cost_delta;
  return cost;
}

double config_loss(const MpProblem& p, const MpConfig& config) {
  assert(config.size() == p.groups.size());
  double loss = 0;
  for (std::size_t g = 0; g < config.size(); ++g)
    loss += p.groups[g][static_cast<std::size_t>(config[g])].loss;
  return loss;
}

PricedConfig priced(const MpProblem& p, MpConfig config) {
  const double cost = config_cost(p, config), loss = config_loss(p, config);
  return {std::move(config), cost, loss};
}

Status check_budget(const MpProblem& p, double budget) {
  if (!std::isfinite(budget)) return make_error("the budget is not finite");
  const double cheapest = config_cost(p, cheapest_config(p));
  if (budget < cheapest) {
    std::ostringstream msg;
    msg << std::setprecision(9) << "infeasible budget " << budget
        << ": the cheapest achievable cost is " << cheapest << " (the baseline costs "
        << p.base_cost << ")";
    return make_error(msg.str());
  }
  return Ok{};
}

std::size_t count_configs(const MpProblem& p) {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  std::size_t n = 1;
  for (const auto& options : p.groups) {
    if (options.empty()) return 0;
    if (n > kMax / options.size()) return kMax;
    n *= options.size();
  }
  return n;
}

}  // namespace mpq
