// Accuracy-bound searches over a front: the worked example, the evaluation bound of the binary
// search on monotone and non-monotone fronts, and brute force as the reference.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "example_problems.hpp"
#include "search/front_search.hpp"
#include "search/sensitivity_front.hpp"

namespace mpq {
namespace {

std::size_t ceil_log2(std::size_t n) {
  std::size_t k = 0;
  while ((std::size_t{1} << k) < n) ++k;
  return k;
}

// Accuracy 0.9 minus the predicted loss: on the hand front 0.9, 0.898, 0.888, 0.858, 0.818, 0.648.
MemoizedEvaluator hand_evaluator(const MpProblem& p, int& calls) {
  return MemoizedEvaluator([&p, &calls](const MpConfig& c) {
    ++calls;
    return Evaluation::of(0.9 - config_loss(p, c));
  });
}

TEST(FrontSearch, FindsTheCheapestPointWithinTheBoundOnTheHandFront) {
  const MpProblem p = test::hand_problem();
  const MpFront front = sensitivity_front(p, test::hand_list()).value();
  int calls = 0;
  MemoizedEvaluator evaluate = hand_evaluator(p, calls);
  const double bound = 0.85;  // points 0..3 meet it (loss <= 0.05); point 3 costs 120

  // Binary: point 5 (0.648, fails), point 0 (0.9, meets), then 2 (meets), 3 (meets), 4 (fails).
  const auto binary = binary_search_front(front, evaluate, bound);
  EXPECT_TRUE(binary->met);
  EXPECT_EQ(binary->point, 3u);
  EXPECT_NEAR(binary->accuracy, 0.858, 1e-12);
  EXPECT_EQ(binary->evaluations, 5u);  // = ceil(log2 6) + 2
  EXPECT_EQ(calls, 5);

  // Interpolation: after 5 and 0, t = (0.9 - 0.85) / (0.9 - 0.648) = 0.198, floor(0.198 x 5) = 0,
  // clamped to 1 (meets; the bracket shrank 5 -> 4, not halved, so bisect next: 3 meets); then
  // t = (0.858 - 0.85) / (0.858 - 0.648) = 0.038 -> 3, clamped to 4 (fails). Points 5,0,1,3,4.
  const auto interpolation = interpolation_search_front(front, evaluate, bound);
  EXPECT_EQ(interpolation->point, 3u);
  EXPECT_EQ(interpolation->evaluations, 5u);
  EXPECT_EQ(calls, 6);  // only point 1 was new

  const auto brute = brute_force_front(front, evaluate, bound);
  EXPECT_EQ(brute->point, 3u);
  EXPECT_EQ(brute->evaluations, 6u);
  EXPECT_EQ(calls, 6);  // every point was already evaluated
  EXPECT_EQ(evaluate.evaluations(), 6u);
}

TEST(FrontSearch, ReverseReturnsTheFirstPointFromTheCheapEnd) {
  const MpProblem p = test::hand_problem();
  const MpFront reverse = reverse_sensitivity_front(p, test::hand_list()).value();
  int calls = 0;
  MemoizedEvaluator evaluate = hand_evaluator(p, calls);
  // From the cheap end: 0.648, 0.818 fail, [1,1,1] at 0.858 meets 0.85.
  const auto r = first_meeting_front(reverse, evaluate, 0.85);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->met);
  EXPECT_EQ(front_config(reverse, r->point), (MpConfig{1, 1, 1}));
  EXPECT_EQ(r->evaluations, 3u);
}

TEST(FrontSearch, UnreachableBoundSaysSoAndReturnsTheBaseline) {
  const MpProblem p = test::hand_problem();
  const MpFront front = sensitivity_front(p, test::hand_list()).value();
  const MpFront reverse = reverse_sensitivity_front(p, test::hand_list()).value();
  int calls = 0;
  MemoizedEvaluator evaluate = hand_evaluator(p, calls);
  for (const auto& r : {binary_search_front(front, evaluate, 0.95),
                        interpolation_search_front(front, evaluate, 0.95),
                        brute_force_front(front, evaluate, 0.95)}) {
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_FALSE(r->met);
    EXPECT_EQ(r->point, 0u);
    EXPECT_DOUBLE_EQ(r->accuracy, 0.9);
  }
  const auto r = first_meeting_front(reverse, evaluate, 0.95);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->met);
  EXPECT_EQ(front_config(reverse, r->point), baseline_options(p));
  // A bound every point meets: the cheapest point, after one evaluation.
  const auto all = binary_search_front(front, evaluate, 0.5);
  EXPECT_EQ(all->point, 5u);
  EXPECT_EQ(all->evaluations, 1u);
}

// An evaluation that fails (the evaluator says why, Timeloop style) is the search's error, with
// the evaluator's reason, in every search that reaches the failing point.
TEST(FrontSearch, AFailedEvaluationIsTheSearchsError) {
  const MpProblem p = test::hand_problem();
  const MpFront front = sensitivity_front(p, test::hand_list()).value();
  const MpConfig broken = front_config(front, front.points.size() - 1);
  MemoizedEvaluator evaluate([&](const MpConfig& c) {
    return c == broken ? Evaluation::failed("engine: the cheapest point cannot run")
                       : Evaluation::of(0.9 - config_loss(p, c));
  });
  for (const auto& r : {binary_search_front(front, evaluate, 0.85),
                        interpolation_search_front(front, evaluate, 0.85),
                        brute_force_front(front, evaluate, 0.85)}) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "engine: the cheapest point cannot run");
  }
  // The reverse front starts at the cheapest point.
  const MpFront reverse = reverse_sensitivity_front(p, test::hand_list()).value();
  const auto r = first_meeting_front(reverse, evaluate, 0.85);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "engine: the cheapest point cannot run");
}

// Random fronts of 1..300 points: monotone (decreasing), noisy (monotone plus noise, so locally
// non-monotone) and fully random. The binary search never exceeds ceil(log2 N) + 2 evaluations,
// and always returns a boundary: a point meeting the bound whose successor does not. On
// monotone fronts that is the cheapest point meeting the bound, as brute force finds.
TEST(FrontSearch, BinarySearchStaysWithinItsEvaluationBound) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::size_t binary_total = 0, interpolation_total = 0, monotone_cases = 0;
  for (int kind = 0; kind < 3; ++kind)
    for (std::size_t n = 1; n <= 300; n += (n < 20 ? 1 : 13)) {
      std::vector<double> acc(n);
      double a = 0.9;
      for (std::size_t i = 0; i < n; ++i) {
        a -= 0.3 * u(rng) / static_cast<double>(n);
        acc[i] = kind == 0 ? a : kind == 1 ? a + 0.02 * (u(rng) - 0.5) : u(rng);
      }
      for (double bound : {0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.1}) {
        std::size_t calls = 0;
        auto accuracy_of = [&](std::size_t i) {
          ++calls;
          return acc[i];
        };
        const auto b = binary_search_bound(n, accuracy_of, bound);
        EXPECT_LE(b.evaluations, ceil_log2(n) + 2) << "n=" << n << " kind=" << kind;
        EXPECT_EQ(b.evaluations, calls);
        const auto in = interpolation_search_bound(n, accuracy_of, bound);
        for (const auto& r : {b, in}) {
          if (r.met) {
            EXPECT_GE(acc[r.point], bound);
            if (r.point + 1 < n) {
              EXPECT_LT(acc[r.point + 1], bound);
            }
          } else {
            EXPECT_LT(acc[0], bound);
            EXPECT_EQ(r.point, 0u);
          }
        }
        EXPECT_LE(in.evaluations, 2 * (ceil_log2(n) + 2));
        if (kind == 0) {
          std::size_t last_meeting = 0;
          for (std::size_t i = 0; i < n; ++i)
            if (acc[i] >= bound) last_meeting = i;
          if (acc[0] >= bound) {
            EXPECT_EQ(b.point, last_meeting);
            EXPECT_EQ(in.point, last_meeting);
          }
          binary_total += b.evaluations;
          interpolation_total += in.evaluations;
          ++monotone_cases;
        }
      }
    }
  std::printf("monotone random fronts, %zu searches: binary %zu evaluations, interpolation %zu\n",
              monotone_cases, binary_total, interpolation_total);
  // On near-linear fronts interpolation should need fewer evaluations overall.
  EXPECT_LT(interpolation_total, binary_total);
}

}  // namespace
}  // namespace mpq
