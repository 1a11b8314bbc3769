#include "mckp_reduction.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <tuple>

namespace mpq {
namespace {

// The options of a group on the lower convex hull of (cost, loss), from the least loss (ties: the
// lower cost) to the least cost; slopes (loss added per unit of cost saved) increase.
std::vector<int> convex_hull(const std::vector<MpOption>& options) {
  std::vector<int> order(options.size());
  for (std::size_t o = 0; o < order.size(); ++o) order[o] = static_cast<int>(o);
  auto at = [&](int o) -> const MpOption& { return options[static_cast<std::size_t>(o)]; };
  // From the cheapest up (ties: the lower loss first); a point is on the staircase if it loses
  // less than every cheaper point, and on the hull if it also lies below the chord of its
  // neighbours.
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return std::tie(at(a).cost_delta, at(a).loss, a) < std::tie(at(b).cost_delta, at(b).loss, b);
  });
  std::vector<int> hull;
  for (int o : order) {
    if (!hull.empty() && at(o).loss >= at(hull.back()).loss) continue;  // dominated
    while (hull.size() >= 2) {
      const MpOption &a = at(hull[hull.size() - 2]), &b = at(hull.back()), &c = at(o);
      const double cross = (b.cost_delta - a.cost_delta) * (c.loss - a.loss) -
                           (b.loss - a.loss) * (c.cost_delta - a.cost_delta);
      if (cross > 0) break;  // b lies strictly below the chord a-c
      hull.pop_back();
    }
    hull.push_back(o);
  }
  std::reverse(hull.begin(), hull.end());
  return hull;
}

struct Segment {
  double slope;  // loss added per unit of cost saved
  int group;
  int to;  // the option the group moves to
};

// Spends the budget the greedy left unused: repeatedly makes the single option change that
// removes the most loss among those that fit (a better incumbent lets reduce_mckp drop more
// options). Bounded number of rounds: this only tightens the upper bound.
void improve_within_budget(const MpProblem& p, double budget, MpConfig& config) {
  double cost = config_cost(p, config);
  for (int round = 0; round < 64; ++round) {
    double best_gain = 0;
    std::size_t best_group = 0;
    int best_option = -1;
    for (std::size_t g = 0; g < p.groups.size(); ++g) {
      const auto& options = p.groups[g];
      const MpOption& cur = options[static_cast<std::size_t>(config[g])];
      for (std::size_t o = 0; o < options.size(); ++o) {
        const double gain = cur.loss - options[o].loss;
        if (gain > best_gain && cost + options[o].cost_delta - cur.cost_delta <= budget)
          best_gain = gain, best_group = g, best_option = static_cast<int>(o);
      }
    }
    if (best_option < 0) return;
    const auto& options = p.groups[best_group];
    cost += options[static_cast<std::size_t>(best_option)].cost_delta -
            options[static_cast<std::size_t>(config[best_group])].cost_delta;
    config[best_group] = best_option;
  }
}

}  // namespace

MckpReduction reduce_mckp(const MpProblem& p, double budget) {
  const std::size_t num_groups = p.groups.size();
  MckpReduction r;
  // 1. The LP greedy over the hulls.
  MpConfig config(num_groups);
  std::vector<Segment> segments;
  for (std::size_t g = 0; g < num_groups; ++g) {
    const auto& options = p.groups[g];
    const std::vector<int> hull = convex_hull(options);
    config[g] = hull.front();
    for (std::size_t i = 1; i < hull.size(); ++i) {
      const MpOption &a = options[static_cast<std::size_t>(hull[i - 1])],
                     &b = options[static_cast<std::size_t>(hull[i])];
      segments.push_back(
          {(b.loss - a.loss) / (a.cost_delta - b.cost_delta), static_cast<int>(g), hull[i]});
    }
  }
  std::sort(segments.begin(), segments.end(), [](const Segment& a, const Segment& b) {
    return std::tie(a.slope, a.group, a.to) < std::tie(b.slope, b.group, b.to);
  });
  double cost = config_cost(p, config);
  for (const Segment& s : segments) {
    if (cost <= budget) break;
    const auto g = static_cast<std::size_t>(s.group);
    cost += p.groups[g][static_cast<std::size_t>(s.to)].cost_delta -
            p.groups[g][static_cast<std::size_t>(config[g])].cost_delta;
    config[g] = s.to;
    r.lambda = s.slope;
  }
  improve_within_budget(p, budget, config);
  r.incumbent = priced(p, config);
  // Segments are applied in slope order within a group too, so the walk ends at each group's
  // cheapest hull option at worst; a running-sum cost an ulp off could still leave it over.
  if (r.incumbent.cost > budget) r.incumbent = priced(p, cheapest_config(p));
  assert(r.incumbent.cost <= budget);

  // 2. Reduced costs against UB - L(lambda).
  std::vector<double> min_lagrangian(num_groups);
  double bound = -r.lambda * (budget - p.base_cost), magnitude = std::abs(bound);
  for (std::size_t g = 0; g < num_groups; ++g) {
    double best = INFINITY;
    for (const MpOption& o : p.groups[g]) {
      best = std::min(best, o.loss + r.lambda * o.cost_delta);
      magnitude += o.loss + r.lambda * std::abs(o.cost_delta);
    }
    min_lagrangian[g] = best;
    bound += best;
  }
  r.lower_bound = bound;
  const double margin = 1e-9 * magnitude;
  const double gap = r.incumbent.loss - bound + margin;
  r.kept.resize(num_groups);
  for (std::size_t g = 0; g < num_groups; ++g) {
    const auto& options = p.groups[g];
    for (std::size_t o = 0; o < options.size(); ++o) {
      const double rc = options[o].loss + r.lambda * options[o].cost_delta - min_lagrangian[g];
      bool dominated = false;
      for (std::size_t q = 0; q < options.size() && !dominated; ++q) {
        const MpOption &a = options[q], &b = options[o];
        const bool no_worse = a.cost_delta <= b.cost_delta && a.loss <= b.loss;
        const bool identical = a.cost_delta == b.cost_delta && a.loss == b.loss;
        dominated = q != o && no_worse && (!identical || q < o);
      }
      // The incumbent's option is always kept (its reduced cost is within the gap in exact
      // arithmetic; kept explicitly so rounding cannot drop it).
      if ((rc <= gap && !dominated) || static_cast<int>(o) == r.incumbent.config[g])
        r.kept[g].push_back(static_cast<int>(o));
    }
  }
  return r;
}

}  // namespace mpq
