#pragma once
// A candidate: the (weight format, activation format) pair a quantizer group runs at. Its one
// spelling is W<w>A<a>: a plain integer format by its bit count, every other format by its full
// name ("W8A8", "W4A8", "Wfp16Afp16", "Wmxfp4Amxfp8_e4m3", "Wint4_g128A16"), as accelerator
// files declare them. Every file and message mpq writes uses name().
#include <compare>
#include <string>
#include <string_view>

#include "number_format.hpp"
#include "result.hpp"

namespace mpq {

struct Candidate {
  NumberFormat weight, activation;

  std::string name() const;
  // Bit operations per MAC: effective weight bits x effective activation bits.
  double bops_per_mac() const { return weight.effective_bits() * activation.effective_bits(); }
  auto operator<=>(const Candidate&) const = default;
};

// W<w>A<a> ("W8A8", "Wfp16Afp16", "Wint8Aint8" too); a float format name alone ("fp16") is
// accepted as input for the candidate with both halves in that format.
Result<Candidate> parse_candidate(std::string_view text);

// The order that defines "highest": more bit operations per MAC first, then more activation
// bits, then the name (so the order is total and the same on every run).
bool higher_precision(const Candidate& a, const Candidate& b);

}  // namespace mpq
