#pragma once
// A candidate: the (weight format, activation format) pair a quantizer group runs at, named
// W<w>A<a> ("W8A8", "W4A8", "Wfp16Afp16").
#include <optional>
#include <string>
#include <string_view>

#include "number_format.hpp"

namespace mpq::hw {

struct Candidate {
  std::string name;
  NumberFormat weights;
  NumberFormat activations;

  // Bit operations per MAC: effective weight bits x effective activation bits.
  double bops_per_mac() const { return weights.effective_bits() * activations.effective_bits(); }
};

std::string candidate_name(const NumberFormat& weights, const NumberFormat& activations);
// "W8A16" -> {int8, int16}; nullopt when the name is not of that form.
std::optional<Candidate> parse_candidate_name(std::string_view name);

// The order that defines "highest": more bit operations per MAC first, then more activation
// bits, then the name (so the order is total and the same on every run).
bool higher_precision(const Candidate& a, const Candidate& b);

}  // namespace mpq::hw
