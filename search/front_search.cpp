#include "front_search.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <map>

namespace mpq {
namespace {

// Evaluates each index at most once and counts the distinct ones.
class CountingProbe {
 public:
  explicit CountingProbe(const PointAccuracy& accuracy_of) : accuracy_of_(accuracy_of) {}
  double operator()(std::size_t i) {
    auto it = seen_.find(i);
    if (it == seen_.end()) it = seen_.emplace(i, accuracy_of_(i)).first;
    return it->second;
  }
  std::size_t count() const { return seen_.size(); }

 private:
  const PointAccuracy& accuracy_of_;
  std::map<std::size_t, double> seen_;
};

enum class Probe : bool { Bisect, Interpolate };

// Brackets the boundary between the last point meeting the bound and the first one that does not,
// then narrows it with bisection or interpolation.
BoundSearchResult bracket_search(std::size_t n, const PointAccuracy& accuracy_of, double bound,
                                 Probe mode) {
  assert(n >= 1);
  CountingProbe probe(accuracy_of);
  auto result = [&](bool met, std::size_t point) {
    return BoundSearchResult{met, point, probe(point), probe.count()};
  };
  if (probe(n - 1) >= bound) return result(true, n - 1);
  if (n == 1 || !(probe(0) >= bound)) return result(false, 0);
  std::size_t lo = 0, hi = n - 1;  // probe(lo) meets the bound, probe(hi) does not
  bool bisect_next = mode == Probe::Bisect;
  while (hi - lo > 1) {
    std::size_t mid = lo + (hi - lo) / 2;
    if (!bisect_next) {
      const double a_lo = probe(lo), a_hi = probe(hi);
      const double t = (a_lo - bound) / (a_lo - a_hi);  // where the line crosses the bound
      if (std::isfinite(t)) {
        const double at = static_cast<double>(lo) + std::floor(t * static_cast<double>(hi - lo));
        mid = static_cast<std::size_t>(
            std::clamp(at, static_cast<double>(lo + 1), static_cast<double>(hi - 1)));
      }
    }
    const std::size_t before = hi - lo;
    if (probe(mid) >= bound)
      lo = mid;
    else
      hi = mid;
    if (mode == Probe::Interpolate) bisect_next = 2 * (hi - lo) > before;
  }
  return result(true, lo);
}

PointAccuracy front_accuracy(const MpFront& front, MemoizedEvaluator& evaluate) {
  return [&front, &evaluate](std::size_t i) { return evaluate(front_config(front, i)); };
}

}  // namespace

BoundSearchResult binary_search_bound(std::size_t n, const PointAccuracy& accuracy_of,
                                      double bound) {
  return bracket_search(n, accuracy_of, bound, Probe::Bisect);
}

BoundSearchResult interpolation_search_bound(std::size_t n, const PointAccuracy& accuracy_of,
                                             double bound) {
  return bracket_search(n, accuracy_of, bound, Probe::Interpolate);
}

BoundSearchResult binary_search_front(const MpFront& front, MemoizedEvaluator& evaluate,
                                      double bound) {
  return binary_search_bound(front.points.size(), front_accuracy(front, evaluate), bound);
}

BoundSearchResult interpolation_search_front(const MpFront& front, MemoizedEvaluator& evaluate,
                                             double bound) {
  return interpolation_search_bound(front.points.size(), front_accuracy(front, evaluate), bound);
}

BoundSearchResult brute_force_front(const MpFront& front, MemoizedEvaluator& evaluate,
                                    double bound) {
  const std::size_t n = front.points.size();
  assert(n >= 1);
  BoundSearchResult best{false, 0, evaluate(front_config(front, 0)), n};
  for (std::size_t i = 0; i < n; ++i) {
    const double accuracy = evaluate(front_config(front, i));
    if (!(accuracy >= bound)) continue;
    const double cost = front.points[i].cost, best_cost = front.points[best.point].cost;
    if (!best.met || cost < best_cost || (cost == best_cost && accuracy > best.accuracy))
      best = {true, i, accuracy, n};
  }
  return best;
}

BoundSearchResult first_meeting_front(const MpFront& front, MemoizedEvaluator& evaluate,
                                      double bound) {
  const std::size_t n = front.points.size();
  assert(n >= 1);
  for (std::size_t i = 0; i < n; ++i) {
    const double accuracy = evaluate(front_config(front, i));
    if (accuracy >= bound) return {true, i, accuracy, i + 1};
  }
  return {false, n - 1, evaluate(front_config(front, n - 1)), n};
}

}  // namespace mpq
