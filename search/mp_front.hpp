#pragma once
// A front: a walk through configurations that starts at one configuration and changes one
// group's option per step. Stored as the start plus the list of changes, so a front of N points
// over G groups takes O(N + G) memory rather than O(N x G); front_config() rebuilds a point's
// configuration when it is needed (to evaluate it or to report it).
#include <cstddef>
#include <vector>

#include "mp_problem.hpp"

namespace mpq {

struct FrontPoint {
  std::size_t changes_applied = 0;  // configuration = start + the first changes_applied changes
  std::size_t steps_taken = 0;      // steps of the walk consumed to reach this point
  double cost = 0;                  // predicted (additive) cost
  double loss = 0;                  // predicted (additive) loss
};

struct MpFront {
  MpConfig start;
  std::vector<OptionChange> changes;
  std::vector<FrontPoint> points;  // points[0] is the start
};

// Walks `steps` from `start`: each step sets one group's option and yields a point. A step that
// changes nothing yields no point, nor does one that returns to a configuration already on the
// front (the first occurrence is kept). Every step must be valid for `p` (validate_change).
MpFront walk_front(const MpProblem& p, MpConfig start, const std::vector<OptionChange>& steps);

MpConfig front_config(const MpFront& front, std::size_t point);

}  // namespace mpq
