#include "rank_correlation.hpp"

#include <cassert>
#include <cmath>
#include <limits>

namespace mpq {

double kendall_tau_b(std::span<const double> a, std::span<const double> b) {
  assert(a.size() == b.size());
  const std::size_t n = a.size();
  // O(n^2) pairs: phase-1 lists have at most a few thousand tasks.
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      const double da = a[i] - a[j], db = b[i] - b[j];
      if (da == 0 && db == 0) continue;
      if (da == 0) {
        ties_a += 1;
      } else if (db == 0) {
        ties_b += 1;
      } else if ((da > 0) == (db > 0)) {
        concordant += 1;
      } else {
        discordant += 1;
      }
    }
  const double denom =
      std::sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b));
  if (denom == 0) return std::numeric_limits<double>::quiet_NaN();
  return (concordant - discordant) / denom;
}

}  // namespace mpq
