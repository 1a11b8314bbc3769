#include "mp_front.hpp"

#include <cassert>
#include <cstdint>
#include <unordered_map>
#include <utility>

namespace mpq {
namespace {

// Zobrist hashing: a configuration's hash is the XOR of one random word per (group, option), so a
// step updates it in O(1). Equal hashes are confirmed by comparing the configurations.
std::uint64_t option_hash(int group, int option) {
  std::uint64_t x = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(group)) << 32) |
                    static_cast<std::uint32_t>(option);
  x += 0x9e3779b97f4a7c15ULL;  // splitmix64
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

MpFront walk_front(const MpProblem& p, MpConfig start, const std::vector<OptionChange>& steps) {
  assert(start.size() == p.groups.size());
  MpFront front;
  front.start = std::move(start);
  MpConfig config = front.start;
  double cost = config_cost(p, config), loss = config_loss(p, config);
  std::uint64_t hash = 0;
  for (std::size_t g = 0; g < config.size(); ++g)
    hash ^= option_hash(static_cast<int>(g), config[g]);
  std::unordered_map<std::uint64_t, std::vector<std::size_t>> points_by_hash;
  front.points.push_back({0, 0, cost, loss});
  points_by_hash[hash].push_back(0);

  for (std::size_t s = 0; s < steps.size(); ++s) {
    const auto [group, option] = steps[s];
    assert(validate_change(p, steps[s]).ok());
    const auto g = static_cast<std::size_t>(group);
    const int old = config[g];
    if (old == option) continue;
    const auto& options = p.groups[g];
    cost += options[static_cast<std::size_t>(option)].cost_delta -
            options[static_cast<std::size_t>(old)].cost_delta;
    loss += options[static_cast<std::size_t>(option)].loss -
            options[static_cast<std::size_t>(old)].loss;
    hash ^= option_hash(group, old) ^ option_hash(group, option);
    config[g] = option;
    front.changes.push_back(steps[s]);

    auto& same_hash = points_by_hash[hash];
    bool seen = false;
    for (std::size_t earlier : same_hash)
      if (front_config(front, earlier) == config) seen = true;
    if (seen) continue;
    same_hash.push_back(front.points.size());
    front.points.push_back({front.changes.size(), s + 1, cost, loss});
  }
  return front;
}

MpConfig front_config(const MpFront& front, std::size_t point) {
  assert(point < front.points.size());
  MpConfig config = front.start;
  const std::size_t n = front.points[point].changes_applied;
  for (std::size_t i = 0; i < n; ++i)
    config[static_cast<std::size_t>(front.changes[i].group)] = front.changes[i].option;
  return config;
}

}  // namespace mpq
