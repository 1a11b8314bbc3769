// Schaefer et al.'s bisection: the longest least-sensitive prefix that stays within the bound.
#include <gtest/gtest.h>

#include "search/sensitivity_bisection.hpp"

namespace mpq {
namespace {

// Four groups with two options; lowering group g costs losses[g] of accuracy (0.9 at baseline).
MpProblem four_groups() {
  MpProblem p;
  p.base_cost = 100;
  for (double loss : {0.05, 0.001, 0.01, 0.004}) p.groups.push_back({{0, 0}, {loss, -10}});
  return p;
}

TEST(SensitivityBisection, LowersTheLongestPrefixWithinTheBound) {
  const MpProblem p = four_groups();
  int calls = 0;
  MemoizedEvaluator evaluate([&](const MpConfig& c) {
    ++calls;
    return Evaluation::of(0.9 - config_loss(p, c));
  });
  std::vector<Lowering> lowerings;
  lowerings.reserve(4);
  for (int g = 0; g < 4; ++g) lowerings.push_back({g, 1, p.groups[g][1].loss});
  // Sorted: groups 1 (0.001), 3 (0.004), 2 (0.01), 0 (0.05). Prefix accuracies:
  // 0.9, 0.899, 0.895, 0.885, 0.835. Bound 0.88: the longest prefix is 3 (groups 1, 3, 2).
  const auto r = sensitivity_bisection(p, lowerings, evaluate, 0.88);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->met);
  EXPECT_EQ(r->lowered, 3u);
  EXPECT_EQ(r->config, (MpConfig{0, 1, 1, 1}));
  EXPECT_NEAR(r->accuracy, 0.885, 1e-12);
  ASSERT_EQ(r->order.size(), 4u);
  EXPECT_EQ(r->order[0].group, 1);
  EXPECT_EQ(r->order[3].group, 0);
  // Prefixes 4 (fails), 0 (meets), 2 (meets), 3 (meets): 4 <= ceil(log2 5) + 2 = 5.
  EXPECT_EQ(r->evaluations, 4u);
  EXPECT_EQ(calls, 4);

  // Bound 0.95: not even the baseline (0.9) meets it: the baseline, met = false.
  const auto none = sensitivity_bisection(p, lowerings, evaluate, 0.95);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->met);
  EXPECT_EQ(none->config, baseline_options(p));
}

TEST(SensitivityBisection, RejectsAGroupLoweredTwice) {
  const MpProblem p = four_groups();
  MemoizedEvaluator evaluate([](const MpConfig&) { return Evaluation::of(1.0); });
  const auto r = sensitivity_bisection(p, {{2, 1, 0.1}, {2, 1, 0.2}}, evaluate, 0.5);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("group 2 is lowered twice"), std::string::npos);
}

TEST(SensitivityBisection, AFailedEvaluationIsItsError) {
  const MpProblem p = four_groups();
  std::vector<Lowering> lowerings;
  for (int g = 0; g < 4; ++g) lowerings.push_back({g, 1, p.groups[g][1].loss});
  MemoizedEvaluator evaluate([&](const MpConfig& c) {
    return c == MpConfig{1, 1, 1, 1} ? Evaluation::failed("every group lowered: no engine")
                                     : Evaluation::of(0.9 - config_loss(p, c));
  });
  const auto r = sensitivity_bisection(p, lowerings, evaluate, 0.88);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "every group lowered: no engine");
}

}  // namespace
}  // namespace mpq
