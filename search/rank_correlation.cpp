#include "rank_correlation.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace mpq {

std::optional<double> kendall_tau_b(std::span<const double> a, std::span<const double> b) {
  assert(a.size() == b.size());
  const auto is_nan = [](double v) { return std::isnan(v); };
  if (std::any_of(a.begin(), a.end(), is_nan) || std::any_of(b.begin(), b.end(), is_nan))
    return std::nullopt;
  const std::size_t n = a.size();
  // O(n^2) pairs: phase-1 lists have at most a few thousand tasks.
  double concordant = 0, discordant = 0, ties_a = 0, ties_b = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      // By comparison, not difference: lossless tasks (+inf SQNR) and failed ones (-inf) tie.
      const int da = (a[i] > a[j]) - (a[i] < a[j]), db = (b[i] > b[j]) - (b[i] < b[j]);
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
  if (denom == 0) return std::nullopt;
  return (concordant - discordant) / denom;
}

}  // namespace mpq
