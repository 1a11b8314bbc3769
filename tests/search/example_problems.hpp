#pragma once
// Problems the phase-2 tests share: a small one worked out by hand and seeded random ones.
#include <cstdint>
#include <random>

#include "search/mp_problem.hpp"

namespace mpq::test {

// Three groups, base cost 200:
//   group 0: baseline, (loss 0.01, cost -40), (loss 0.05, cost -60)
//   group 1: baseline, (loss 0.002, cost -10)
//   group 2: baseline, (loss 0.03, cost -30), (loss 0.2, cost -50)
// The cheapest configuration costs 200 - 60 - 10 - 50 = 80.
inline MpProblem hand_problem() {
  MpProblem p;
  p.base_cost = 200;
  p.groups = {{{0, 0}, {0.01, -40}, {0.05, -60}},
              {{0, 0}, {0.002, -10}},
              {{0, 0}, {0.03, -30}, {0.2, -50}}};
  return p;
}

// Its sensitivity list, most robust first (by loss).
inline std::vector<OptionChange> hand_list() {
  return {{1, 1}, {0, 1}, {2, 1}, {0, 2}, {2, 2}};
}

// `groups` groups with 2..4 options each; losses uniform in [0, 1); cost deltas uniform in
// [-100, 0), one in eight in [0, 20) (an option costing more than the baseline, as a slower
// kernel on some accelerator would). Base cost 1000.
inline MpProblem random_problem(std::uint32_t seed, int groups) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> num_options(2, 4), one_in_eight(0, 7);
  std::uniform_real_distribution<double> loss(0, 1), saving(0, 100), extra(0, 20);
  MpProblem p;
  p.base_cost = 1000;
  for (int g = 0; g < groups; ++g) {
    std::vector<MpOption> options{{0, 0}};
    const int n = num_options(rng);
    for (int o = 1; o < n; ++o) {
      const double l = loss(rng);
      options.push_back({l, one_in_eight(rng) == 0 ? extra(rng) : -saving(rng)});
    }
    p.groups.push_back(options);
  }
  return p;
}

}  // namespace mpq::test
