#pragma once
// How far a heuristic front is from the true Pareto front (exhaustive_pareto), both ways:
// - front_gap: for each point of the front, its loss minus the least loss any configuration
//   achieves at no more cost (0: the point is on the true front);
// - coverage_gap: for each true Pareto point, the least loss of a front point at no more cost
//   minus the true loss (0: the front has a point as good at that budget). A front whose points
//   are all optimal can still cover the budgets between its points badly.
#include <cstddef>
#include <string>
#include <vector>

#include "exhaustive_pareto.hpp"
#include "mp_front.hpp"

namespace mpq {

struct PointGap {
  double cost = 0;
  double loss = 0;       // the (heuristic) front's loss at `cost`
  double best_loss = 0;  // the least loss at cost <= `cost` over all configurations
  double gap() const { return loss - best_loss; }
};

struct GapSummary {
  std::size_t points = 0;
  std::size_t on_true_front = 0;  // gap within 1e-12 of the loss scale (a zero gap)
  double max_gap = 0;
  double mean_gap = 0;
  double max_relative_gap = 0;  // gap / loss, over points with loss > 0
};

// `truth` from exhaustive_pareto of the same problem. Front points cost at least the cheapest
// configuration, so each has a true point within its cost.
std::vector<PointGap> front_gap(const MpFront& front, const std::vector<PricedConfig>& truth);
// True points cheaper than every front point are skipped.
std::vector<PointGap> coverage_gap(const MpFront& front, const std::vector<PricedConfig>& truth);
GapSummary summarize_gap(const std::vector<PointGap>& gaps);
std::string describe_gap(const GapSummary& s);

}  // namespace mpq
