#include "sensitivity_front.hpp"

#include <cstddef>

namespace mpq {
namespace {

Status validate_list(const MpProblem& p, const std::vector<OptionChange>& list) {
  if (auto s = validate_problem(p); !s) return s;
  for (std::size_t i = 0; i < list.size(); ++i)
    if (auto s = validate_change(p, list[i]); !s)
      return make_error("sensitivity list entry " + std::to_string(i) + ": " + s.error().message);
  return Ok{};
}

}  // namespace

Result<MpFront> sensitivity_front(const MpProblem& p,
                                  const std::vector<OptionChange>& sorted_list) {
  if (auto s = validate_list(p, sorted_list); !s) return s.error();
  return walk_front(p, baseline_options(p), sorted_list);
}

Result<MpFront> reverse_sensitivity_front(const MpProblem& p,
                                          const std::vector<OptionChange>& sorted_list) {
  if (auto s = validate_list(p, sorted_list); !s) return s.error();
  // The option each entry overrides in the forward walk: undoing the entry restores it.
  MpConfig forward = baseline_options(p);
  std::vector<int> overridden(sorted_list.size());
  for (std::size_t i = 0; i < sorted_list.size(); ++i) {
    const auto g = static_cast<std::size_t>(sorted_list[i].group);
    overridden[i] = forward[g];
    forward[g] = sorted_list[i].option;
  }
  // The start: every listed group at its cheapest listed option (ties: lower loss, lower index).
  MpConfig start = baseline_options(p);
  std::vector<bool> listed(p.groups.size(), false);
  for (const auto& [group, option] : sorted_list) {
    const auto g = static_cast<std::size_t>(group);
    const MpOption& candidate = p.groups[g][static_cast<std::size_t>(option)];
    const MpOption& current = p.groups[g][static_cast<std::size_t>(start[g])];
    const bool better =
        candidate.cost_delta < current.cost_delta ||
        (candidate.cost_delta == current.cost_delta &&
         (candidate.loss < current.loss || (candidate.loss == current.loss && option < start[g])));
    if (!listed[g] || better) start[g] = option;
    listed[g] = true;
  }
  std::vector<OptionChange> raises;
  raises.reserve(sorted_list.size());
  for (std::size_t i = sorted_list.size(); i-- > 0;)
    raises.push_back({sorted_list[i].group, overridden[i]});
  return walk_front(p, std::move(start), raises);
}

}  // namespace mpq
