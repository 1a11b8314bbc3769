#include "candidate.hpp"

namespace mpq::hw {

std::string candidate_name(const NumberFormat& w, const NumberFormat& a) {
  // Appending (not operator+ on a literal) avoids a GCC 12 -Wrestrict false positive.
  std::string s = "W";
  s += w.candidate_part();
  s += 'A';
  s += a.candidate_part();
  return s;
}

std::optional<Candidate> parse_candidate_name(std::string_view name) {
  // Float format names are lower case, so the only upper-case 'A' after 'W' splits the two.
  if (name.size() < 4 || name[0] != 'W') return std::nullopt;
  const auto split = name.find('A', 1);
  if (split == std::string_view::npos) return std::nullopt;
  auto w = parse_candidate_part(name.substr(1, split - 1));
  auto a = parse_candidate_part(name.substr(split + 1));
  if (!w || !a) return std::nullopt;
  return Candidate{std::string(name), *w, *a};
}

bool higher_precision(const Candidate& a, const Candidate& b) {
  if (a.bops_per_mac() != b.bops_per_mac()) return a.bops_per_mac() > b.bops_per_mac();
  const double aa = a.activations.effective_bits(), ba = b.activations.effective_bits();
  if (aa != ba) return aa > ba;
  return a.name < b.name;
}

}  // namespace mpq::hw
