#pragma once
// Kendall's tau-b between two scorings of the same items: +1 same order, -1 reversed, ties
// accounted for (Kendall 1945). Used to check whether SQNR ranks tasks as accuracy does, and
// whether two calibration subsets give the same ranking.
#include <span>

namespace mpq {

// NaN when fewer than two items or when one scoring is constant.
double kendall_tau_b(std::span<const double> a, std::span<const double> b);

}  // namespace mpq
