#pragma once
// The matchers of the canonicalization pass (canonicalize.hpp), one per pattern family. Each
// looks at one anchor node and proposes a Rewrite, or says why a recognized start was left.
#include <cstddef>

#include "pattern_view.hpp"

namespace mpq {

using Matcher = MatchResult (*)(const PatternView& v, std::size_t anchor);

MatchResult match_affine_chain(const PatternView& v, std::size_t anchor);          // at Conv, ...
MatchResult match_softplus(const PatternView& v, std::size_t anchor);              // at Log
MatchResult match_written_hard_sigmoid(const PatternView& v, std::size_t anchor);  // at Clip
MatchResult match_hard_sigmoid_product(const PatternView& v, std::size_t anchor);  // HardSigmoid
MatchResult match_gelu_erf(const PatternView& v, std::size_t anchor);              // at Erf
MatchResult match_tanh_patterns(const PatternView& v, std::size_t anchor);         // at Tanh
MatchResult match_sigmoid_product(const PatternView& v, std::size_t anchor);       // at Sigmoid
MatchResult match_layer_norm(const PatternView& v, std::size_t anchor);            // at ReduceMean
MatchResult match_rms_norm(const PatternView& v, std::size_t anchor);              // at ReduceMean

// A node of a rewrite.
OpNode fused_node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                  const std::string& output);

}  // namespace mpq

namespace mpq {

// "Left unfused" for a pattern started at `at`.
inline MatchResult left_unfused(const std::string& pattern, const OpNode& at,
                                const std::string& reason) {
  return {std::nullopt, Unfused{pattern, at.label(), reason}};
}

// x * gate(g) as a fused op: HardSwish for x * HardSigmoid(x) with HardSwish's slope and
// offset, SiLU for x * Sigmoid(x), else the gated Mul.
Rewrite gated_product(const std::string& x, const std::string& g, const std::string& gate,
                      float alpha, float beta, const std::string& name, const std::string& out);

}  // namespace mpq
