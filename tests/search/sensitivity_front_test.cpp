// The Pandey et al. front: the walk over the sorted list, its deduplication, the reverse variant,
// and the memoizing evaluator.
#include <gtest/gtest.h>

#include "example_problems.hpp"
#include "search/memoized_evaluator.hpp"
#include "search/sensitivity_front.hpp"

namespace mpq {
namespace {

TEST(SensitivityFront, AppliesTheListCumulatively) {
  const MpProblem p = test::hand_problem();
  const auto front = sensitivity_front(p, test::hand_list());
  ASSERT_TRUE(front.ok()) << front.error().message;
  // Step by step from the baseline (cost 200, loss 0):
  //   (1,1): [0,1,0] 200 - 10 = 190, loss 0.002
  //   (0,1): [1,1,0] 190 - 40 = 150, loss 0.012
  //   (2,1): [1,1,1] 150 - 30 = 120, loss 0.042
  //   (0,2): [2,1,1] overrides group 0's -40 with -60: 100, loss 0.042 - 0.01 + 0.05 = 0.082
  //   (2,2): [2,1,2] overrides group 2's -30 with -50: 80, loss 0.082 - 0.03 + 0.2 = 0.252
  const std::vector<MpConfig> configs = {{0, 0, 0}, {0, 1, 0}, {1, 1, 0},
                                         {1, 1, 1}, {2, 1, 1}, {2, 1, 2}};
  const std::vector<double> costs = {200, 190, 150, 120, 100, 80};
  const std::vector<double> losses = {0, 0.002, 0.012, 0.042, 0.082, 0.252};
  ASSERT_EQ(front->points.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(front_config(*front, i), configs[i]) << i;
    EXPECT_NEAR(front->points[i].cost, costs[i], 1e-12) << i;
    EXPECT_NEAR(front->points[i].loss, losses[i], 1e-15) << i;
    EXPECT_EQ(front->points[i].steps_taken, i);
  }
}

TEST(SensitivityFront, SkipsStepsThatChangeNothingAndRepeatedConfigurations) {
  const MpProblem p = test::hand_problem();
  // (1,0) changes nothing; the second (0,1) returns to [1,0,0], already point 1.
  const std::vector<OptionChange> list = {{1, 0}, {0, 1}, {0, 2}, {0, 1}, {1, 1}};
  const auto front = sensitivity_front(p, list);
  ASSERT_TRUE(front.ok());
  ASSERT_EQ(front->points.size(), 4u);
  EXPECT_EQ(front_config(*front, 1), (MpConfig{1, 0, 0}));
  EXPECT_EQ(front_config(*front, 2), (MpConfig{2, 0, 0}));
  EXPECT_EQ(front_config(*front, 3), (MpConfig{1, 1, 0}));  // 200 - 40 - 10 = 150
  EXPECT_NEAR(front->points[3].cost, 150, 1e-12);
  EXPECT_EQ(front->points[3].steps_taken, 5u);
  EXPECT_EQ(front->points[1].steps_taken, 2u);
}

TEST(SensitivityFront, ReverseRaisesTheMostSensitiveFirst) {
  const MpProblem p = test::hand_problem();
  const auto reverse = reverse_sensitivity_front(p, test::hand_list());
  ASSERT_TRUE(reverse.ok());
  // Start: each group at its cheapest listed option [2,1,2] (cost 80); undo (2,2) -> group 2
  // back to 1, (0,2) -> group 0 back to 1, (2,1) -> 0, (0,1) -> 0, (1,1) -> 0: the forward
  // front backwards, ending at the baseline.
  const std::vector<MpConfig> configs = {{2, 1, 2}, {2, 1, 1}, {1, 1, 1},
                                         {1, 1, 0}, {0, 1, 0}, {0, 0, 0}};
  ASSERT_EQ(reverse->points.size(), configs.size());
  for (std::size_t i = 0; i < configs.size(); ++i)
    EXPECT_EQ(front_config(*reverse, i), configs[i]) << i;
  EXPECT_NEAR(reverse->points.front().cost, 80, 1e-12);
  EXPECT_NEAR(reverse->points.back().cost, 200, 1e-12);
}

TEST(SensitivityFront, ReverseLeavesUnlistedGroupsAtTheBaseline) {
  const MpProblem p = test::hand_problem();
  // Only group 2 is listed, at option 1 then 2: start [0,0,2], then [0,0,1], then the baseline.
  const auto reverse = reverse_sensitivity_front(p, {{2, 1}, {2, 2}});
  ASSERT_TRUE(reverse.ok());
  ASSERT_EQ(reverse->points.size(), 3u);
  EXPECT_EQ(front_config(*reverse, 0), (MpConfig{0, 0, 2}));
  EXPECT_EQ(front_config(*reverse, 1), (MpConfig{0, 0, 1}));
  EXPECT_EQ(front_config(*reverse, 2), (MpConfig{0, 0, 0}));
}

TEST(SensitivityFront, RejectsBadEntriesAndProblems) {
  MpProblem p = test::hand_problem();
  auto bad_group = sensitivity_front(p, {{3, 1}});
  ASSERT_FALSE(bad_group.ok());
  EXPECT_NE(bad_group.error().message.find("group 3 does not exist"), std::string::npos);
  auto bad_option = reverse_sensitivity_front(p, {{1, 2}});
  ASSERT_FALSE(bad_option.ok());
  EXPECT_NE(bad_option.error().message.find("group 1 has no option 2"), std::string::npos);
  p.groups[1][0].cost_delta = 5;  // the baseline option must be the reference
  auto bad_baseline = sensitivity_front(p, test::hand_list());
  ASSERT_FALSE(bad_baseline.ok());
  EXPECT_NE(bad_baseline.error().message.find("option 0"), std::string::npos);
}

TEST(MemoizedEvaluator, EvaluatesEachConfigurationOnce) {
  int calls = 0;
  MemoizedEvaluator evaluate([&](const MpConfig& c) {
    ++calls;
    return c[0] < 3 ? Evaluation::of(1.0 - 0.1 * c[0]) : Evaluation::failed("option 3 fails");
  });
  EXPECT_DOUBLE_EQ(evaluate({1, 0}).value, 0.9);
  EXPECT_DOUBLE_EQ(evaluate({1, 0}).value, 0.9);
  EXPECT_DOUBLE_EQ(evaluate({2, 0}).value, 0.8);
  EXPECT_DOUBLE_EQ(evaluate({1, 0}).value, 0.9);
  EXPECT_TRUE(evaluate({1, 0}).ok);
  // A failure is kept with its reason, and not retried.
  EXPECT_FALSE(evaluate({3, 0}).ok);
  EXPECT_EQ(evaluate({3, 0}).reason, "option 3 fails");
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(evaluate.evaluations(), 3u);
  EXPECT_EQ(evaluate.lookups(), 7u);
}

}  // namespace
}  // namespace mpq
