#pragma once
// Kendall's tau-b between two scorings of the same items: +1 same order, -1 reversed, ties
// accounted for (Kendall 1945). Used to check whether SQNR ranks tasks as accuracy does, and
// whether two calibration subsets give the same ranking.
#include <optional>
#include <span>

namespace mpq {

// Undefined (nullopt) when one scoring is constant over the items (all tie, or fewer than two
// items) or holds a NaN: no number describes how two such rankings agree.
std::optional<double> kendall_tau_b(std::span<const double> a, std::span<const double> b);

}  // namespace mpq
