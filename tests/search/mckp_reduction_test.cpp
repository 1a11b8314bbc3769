// The exact reduction before the budget ILP: the LP greedy, the Lagrangian bound and the options
// it keeps, by hand and against exhaustive enumeration.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "example_problems.hpp"
#include "search/exhaustive_pareto.hpp"
#include "search/mckp_reduction.hpp"

namespace mpq {
namespace {

TEST(MckpReduction, HandProblem) {
  const MpProblem p = test::hand_problem();
  // Hull segments by loss per unit saved: g1 0->1 0.002/10 = 0.0002 (cost 190), g0 0->1
  // 0.01/40 = 0.00025 (150), g2 0->1 0.03/30 = 0.001 (120), g0 1->2 0.04/20 = 0.002 (100 <= 119:
  // lambda = 0.002). Incumbent [2,1,1] (100, 0.082); the 19 left buy back group 1 (+10, -0.002):
  // [2,0,1] (110, 0.08).
  const MckpReduction r = reduce_mckp(p, 119);
  EXPECT_DOUBLE_EQ(r.lambda, 0.002);
  EXPECT_EQ(r.incumbent.config, (MpConfig{2, 0, 1}));
  EXPECT_NEAR(r.incumbent.loss, 0.08, 1e-15);
  // L = min(0, 0.01 - 0.08, 0.05 - 0.12) + min(0, 0.002 - 0.02) + min(0, 0.03 - 0.06, 0.2 - 0.1)
  //     - 0.002 x (119 - 200) = -0.07 - 0.018 - 0.03 + 0.162 = 0.044 (the LP optimum: 0.042 at
  //     cost 120 plus 1/20 of the last segment's 0.04).
  EXPECT_NEAR(r.lower_bound, 0.044, 1e-15);
  // Gap 0.08 - 0.044 = 0.036. Reduced costs: g0 (0.07, 0, 0), g1 (0.018, 0), g2 (0.03, 0, 0.13):
  // g0's baseline and g2's option 2 exceed the gap and go.
  const std::vector<std::vector<int>> want = {{1, 2}, {0, 1}, {0, 1}};
  EXPECT_EQ(r.kept, want);
}

// On random problems the options kept always include the unique optimum, the bound brackets the
// optimal loss, and the incumbent is within the budget.
TEST(MckpReduction, KeepsTheOptimum) {
  std::size_t kept_options = 0, all_options = 0;
  for (std::uint32_t seed = 20; seed < 30; ++seed) {
    const MpProblem p = test::random_problem(seed, 8);
    const auto pareto = exhaustive_pareto(p).value();
    for (double r : {0.0, 0.1, 0.3, 0.5, 0.7, 0.9}) {
      const double budget = pareto.front().cost + r * (pareto.back().cost - pareto.front().cost);
      const auto truth = best_within(pareto, budget).value();
      const MckpReduction red = reduce_mckp(p, budget);
      EXPECT_LE(red.incumbent.cost, budget);
      EXPECT_LE(red.lower_bound, truth.loss + 1e-12);
      EXPECT_GE(red.incumbent.loss, truth.loss - 1e-12);
      for (std::size_t g = 0; g < p.groups.size(); ++g) {
        const auto& k = red.kept[g];
        EXPECT_NE(std::find(k.begin(), k.end(), truth.config[g]), k.end())
            << "seed " << seed << " r " << r << " group " << g;
        kept_options += k.size();
        all_options += p.groups[g].size();
      }
    }
  }
  std::printf("reduction kept %zu of %zu options\n", kept_options, all_options);
  EXPECT_LT(kept_options, all_options);
}

}  // namespace
}  // namespace mpq
