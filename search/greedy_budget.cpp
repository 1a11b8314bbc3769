#include "greedy_budget.hpp"

#include <cmath>
#include <queue>
#include <tuple>

namespace mpq {
namespace {

struct Move {
  double ratio = 0;   // loss added per unit of cost saved
  double saving = 0;  // > 0
  int group = 0;
  int option = 0;
  std::size_t version = 0;  // the group's move count when this move was computed
};

// Orders the priority queue so the best move (see the header's tie rules) is on top.
struct WorseMove {
  bool operator()(const Move& a, const Move& b) const {
    return std::tie(a.ratio, b.saving, a.group, a.option) >
           std::tie(b.ratio, a.saving, b.group, b.option);
  }
};

// The best move of group g from option `current`, if any option saves cost.
bool best_move(const MpProblem& p, std::size_t g, int current, std::size_t version, Move& out) {
  const auto& options = p.groups[g];
  const MpOption& cur = options[static_cast<std::size_t>(current)];
  bool found = false;
  for (std::size_t o = 0; o < options.size(); ++o) {
    const double saving = cur.cost_delta - options[o].cost_delta;
    if (!(saving > 0)) continue;
    const Move m{(options[o].loss - cur.loss) / saving, saving, static_cast<int>(g),
                 static_cast<int>(o), version};
    if (!found || WorseMove{}(out, m)) out = m;
    found = true;
  }
  return found;
}

}  // namespace

Result<MpFront> greedy_budget_front(const MpProblem& p) {
  if (auto s = validate_problem(p); !s) return s.error();
  MpConfig config = baseline_options(p);
  std::vector<std::size_t> version(p.groups.size(), 0);
  std::priority_queue<Move, std::vector<Move>, WorseMove> queue;
  for (std::size_t g = 0; g < p.groups.size(); ++g)
    if (Move m; best_move(p, g, 0, 0, m)) queue.push(m);
  std::vector<OptionChange> moves;
  while (!queue.empty()) {
    const Move m = queue.top();
    queue.pop();
    const auto g = static_cast<std::size_t>(m.group);
    if (m.version != version[g]) continue;  // stale: the group moved since
    moves.push_back({m.group, m.option});
    config[g] = m.option;
    ++version[g];
    if (Move next; best_move(p, g, m.option, version[g], next)) queue.push(next);
  }
  return walk_front(p, baseline_options(p), moves);
}

Result<PricedConfig> greedy_budget(const MpProblem& p, double budget) {
  if (auto s = validate_problem(p); !s) return s.error();
  if (auto s = check_budget(p, budget); !s) return s.error();
  auto front = greedy_budget_front(p);
  if (!front) return front.error();
  // Points' costs are running sums; the exact cost decides. Every move saves cost, so the last
  // point costs what the cheapest configuration costs, which check_budget found within budget.
  const double slack = 1e-9 * (std::abs(budget) + std::abs(p.base_cost));
  for (std::size_t i = 0; i < front->points.size(); ++i) {
    if (front->points[i].cost > budget + slack && i + 1 < front->points.size()) continue;
    PricedConfig chosen = priced(p, front_config(*front, i));
    if (chosen.cost <= budget || i + 1 == front->points.size()) return chosen;
  }
  return make_error("greedy budget: empty front");  // unreachable: the front has its start
}

}  // namespace mpq
