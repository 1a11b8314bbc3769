// Budget selection: the exact ILP (GLPK) and the greedy heuristic, checked by hand and against
// exhaustive enumeration, which is itself checked against an all-pairs dominance test.
#include <gtest/gtest.h>

#include <cstdio>

#include "example_problems.hpp"
#include "search/budget_ilp.hpp"
#include "search/exhaustive_pareto.hpp"
#include "search/front_gap.hpp"
#include "search/greedy_budget.hpp"

namespace mpq {
namespace {

TEST(ExhaustivePareto, HandProblem) {
  // All 18 configurations priced by hand; the non-dominated ones (cost, loss, config):
  const std::vector<PricedConfig> want = {{{2, 1, 2}, 80, 0.252},  {{2, 0, 2}, 90, 0.25},
                                          {{2, 1, 1}, 100, 0.082}, {{2, 0, 1}, 110, 0.08},
                                          {{1, 1, 1}, 120, 0.042}, {{1, 0, 1}, 130, 0.04},
                                          {{1, 1, 0}, 150, 0.012}, {{1, 0, 0}, 160, 0.01},
                                          {{0, 1, 0}, 190, 0.002}, {{0, 0, 0}, 200, 0}};
  // Dominated, e.g.: [1,1,2] costs 100 like [2,1,1] but loses 0.212 > 0.082; [2,1,0] costs 130
  // like [1,0,1] and loses 0.052 > 0.04; [0,0,1] (170, 0.03) loses more than [1,1,0] (150, 0.012).
  const auto got = exhaustive_pareto(test::hand_problem());
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ((*got)[i].config, want[i].config) << i;
    EXPECT_DOUBLE_EQ((*got)[i].cost, want[i].cost);
    EXPECT_NEAR((*got)[i].loss, want[i].loss, 1e-15);
  }
  EXPECT_EQ(best_within(*got, 119)->config, (MpConfig{2, 0, 1}));
  EXPECT_FALSE(best_within(*got, 79).has_value());
}

TEST(ExhaustivePareto, MatchesAllPairsDominanceOnRandomProblems) {
  for (std::uint32_t seed = 1; seed <= 4; ++seed) {
    const MpProblem p = test::random_problem(seed, 5);
    const auto pareto = exhaustive_pareto(p);
    ASSERT_TRUE(pareto.ok());
    // Every configuration, by brute force over all pairs.
    std::vector<PricedConfig> all;
    MpConfig c(p.groups.size(), 0);
    while (true) {
      all.push_back(priced(p, c));
      std::size_t g = c.size();
      while (g-- > 0 && static_cast<std::size_t>(++c[g]) == p.groups[g].size()) c[g] = 0;
      if (g == static_cast<std::size_t>(-1)) break;
    }
    std::size_t non_dominated = 0;
    for (const auto& a : all) {
      bool dominated = false;
      for (const auto& b : all)
        dominated |= b.cost <= a.cost && b.loss <= a.loss && (b.cost < a.cost || b.loss < a.loss);
      if (dominated) continue;
      ++non_dominated;
      bool listed = false;
      for (const auto& q : *pareto) listed |= q.cost == a.cost && q.loss == a.loss;
      EXPECT_TRUE(listed) << "seed " << seed;
    }
    // Random doubles: no two configurations tie, so the sets have the same size.
    EXPECT_EQ(pareto->size(), non_dominated) << "seed " << seed;
  }
}

TEST(ExhaustivePareto, RefusesTooManyConfigurations) {
  MpProblem p;
  p.groups.assign(13, {{0, 0}, {0.1, -1}, {0.2, -2}, {0.3, -3}});
  const auto r = exhaustive_pareto(p);  // 4^13 = 67108864 > 2^24
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("13 groups have 67108864 configurations"), std::string::npos)
      << r.error().message;
  p.groups.assign(40, {{0, 0}, {0.1, -1}, {0.2, -2}, {0.3, -3}});
  const auto huge = exhaustive_pareto(p);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.error().message.find("more than 2^64"), std::string::npos);
}

TEST(BudgetIlp, HandProblem) {
  const MpProblem p = test::hand_problem();
  // Budget 120 (savings >= 80): [1,1,1] saves 40 + 10 + 30 = 80 at loss 0.042; the others that
  // save enough lose more ([2,0,1]: 0.08, [2,1,1]: 0.082). Exactly at the budget is allowed.
  const auto at120 = solve_budget_ilp(p, 120);
  ASSERT_TRUE(at120.ok()) << at120.error().message;
  EXPECT_EQ(at120->config, (MpConfig{1, 1, 1}));
  EXPECT_DOUBLE_EQ(at120->cost, 120);
  // Budget 119: [1,1,1] no longer fits; [2,0,1] (110, 0.08) is the best.
  const auto at119 = solve_budget_ilp(p, 119);
  ASSERT_TRUE(at119.ok());
  EXPECT_EQ(at119->config, (MpConfig{2, 0, 1}));
  EXPECT_NEAR(at119->loss, 0.08, 1e-15);
  // At or above the baseline's cost: the baseline (loss 0).
  EXPECT_EQ(solve_budget_ilp(p, 500)->config, baseline_options(p));
}

TEST(BudgetIlp, InfeasibleBudgetStatesTheCheapestCost) {
  const auto r = solve_budget_ilp(test::hand_problem(), 79);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("infeasible budget 79: the cheapest achievable cost is 80"),
            std::string::npos)
      << r.error().message;
  const auto g = greedy_budget(test::hand_problem(), 79);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("cheapest achievable cost is 80"), std::string::npos);
  // Exactly the cheapest cost is feasible.
  EXPECT_EQ(solve_budget_ilp(test::hand_problem(), 80)->config, (MpConfig{2, 1, 2}));
}

TEST(GreedyBudget, HandProblem) {
  const MpProblem p = test::hand_problem();
  // Loss per unit saved from the baseline: g0->1 0.01/40 = 0.00025, g0->2 0.05/60 = 0.00083,
  // g1->1 0.002/10 = 0.0002, g2->1 0.03/30 = 0.001, g2->2 0.2/50 = 0.004. Group 1 first, then
  // group 0 to 1; then g0 1->2 (0.04/20 = 0.002) loses to g2->1 (0.001); then g0 1->2 (0.002)
  // before g2 1->2 (0.17/20 = 0.0085).
  const auto front = greedy_budget_front(p);
  ASSERT_TRUE(front.ok());
  const std::vector<MpConfig> want = {{0, 0, 0}, {0, 1, 0}, {1, 1, 0},
                                      {1, 1, 1}, {2, 1, 1}, {2, 1, 2}};
  ASSERT_EQ(front->points.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(front_config(*front, i), want[i]);
  // Budget 119: the first greedy point within it is [2,1,1] (100, loss 0.082), while the ILP
  // finds [2,0,1] (110, 0.08): the heuristic overshoots.
  const auto g = greedy_budget(p, 119);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->config, (MpConfig{2, 1, 1}));
  EXPECT_NEAR(g->loss, 0.082, 1e-15);
  EXPECT_EQ(greedy_budget(p, 120)->config, (MpConfig{1, 1, 1}));
}

// The ILP against exhaustive enumeration on random problems (6-10 groups, 2-4 options, some
// options dearer than the baseline), at budgets from the cheapest cost to the baseline's and at
// every Pareto point's exact cost; and the greedy front's distance from the true front.
TEST(BudgetIlp, MatchesExhaustiveEnumeration) {
  std::size_t solves = 0;
  for (std::uint32_t seed = 1; seed <= 10; ++seed) {
    const int groups = 6 + static_cast<int>(seed % 5);
    const MpProblem p = test::random_problem(seed, groups);
    const auto pareto = exhaustive_pareto(p);
    ASSERT_TRUE(pareto.ok());
    const double cheapest = pareto->front().cost, dearest = pareto->back().cost;
    std::vector<double> budgets;
    for (double r : {0.0, 0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.0})
      budgets.push_back(cheapest + r * (dearest - cheapest));
    for (std::size_t i = 0; i < pareto->size(); i += 7) budgets.push_back((*pareto)[i].cost);
    for (double budget : budgets) {
      const auto truth = best_within(*pareto, budget);
      ASSERT_TRUE(truth.has_value());
      const auto ilp = solve_budget_ilp(p, budget);
      ASSERT_TRUE(ilp.ok()) << ilp.error().message;
      EXPECT_LE(ilp->cost, budget);
      EXPECT_NEAR(ilp->loss, truth->loss, 1e-12 * std::max(1.0, truth->loss))
          << "seed " << seed << " budget " << budget;
      EXPECT_DOUBLE_EQ(ilp->loss, config_loss(p, ilp->config));
      const auto greedy = greedy_budget(p, budget);
      ASSERT_TRUE(greedy.ok());
      EXPECT_LE(greedy->cost, budget);
      EXPECT_GE(greedy->loss, truth->loss - 1e-12);
      ++solves;
    }
    const auto greedy_front = greedy_budget_front(p);
    ASSERT_TRUE(greedy_front.ok());
    const auto gaps = front_gap(*greedy_front, *pareto);
    for (const PointGap& g : gaps) EXPECT_GE(g.gap(), -1e-12);
    EXPECT_NEAR(gaps.front().gap(), 0, 1e-15);  // the baseline is optimal at its cost
    const auto coverage = coverage_gap(*greedy_front, *pareto);
    EXPECT_EQ(coverage.size(), pareto->size());  // the greedy front reaches the cheapest cost
    for (const PointGap& g : coverage) EXPECT_GE(g.gap(), -1e-12);
    std::printf(
        "seed %2u, %2d groups, %3zu true Pareto points\n  greedy points vs the true front: "
        "%s\n  true points vs the greedy front: %s\n",
        seed, groups, pareto->size(), describe_gap(summarize_gap(gaps)).c_str(),
        describe_gap(summarize_gap(coverage)).c_str());
  }
  std::printf("%zu ILP solves matched exhaustive enumeration\n", solves);
}

TEST(BudgetIlp, GroupsWithOneOptionStayAtTheirBaseline) {
  MpProblem p = test::hand_problem();
  p.groups.insert(p.groups.begin() + 1, {{0, 0}});  // a group pinned to its baseline
  // Same optimum as the hand problem at budget 119, with the pinned group at 0.
  const auto r = solve_budget_ilp(p, 119);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->config, (MpConfig{2, 0, 0, 1}));
  const auto g = greedy_budget(p, 119);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->config, (MpConfig{2, 0, 1, 1}));
}

TEST(BudgetIlp, IsDeterministic) {
  const MpProblem p = test::random_problem(99, 10);
  const auto a = solve_budget_ilp(p, 700), b = solve_budget_ilp(p, 700);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->config, b->config);
}

}  // namespace
}  // namespace mpq
