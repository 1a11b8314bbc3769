#pragma once
// Quantizer groups on an accelerator: its grouping rules applied to the graph, the candidates
// each group can run at, and the baseline configuration.
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "graph/quantizer_groups.hpp"
#include "hw/accelerator.hpp"
#include "hw/fusion_rules.hpp"

namespace mpq {

// A configuration: one candidate index (into Accelerator::candidates) per group. Its own type: an
// MpConfig (option indices of the phase-2 problem) is a vector of ints too.
struct GroupConfig : std::vector<int> {
  using std::vector<int>::vector;
};

GroupingRules grouping_rules_of(const hw::Accelerator& acc);
// The accelerator's fusion rules as quantizer placement takes them (its defaults when the
// description has no `fusion:` section).
PlacementRules placement_rules_of(const hw::Accelerator& acc);
// What an op type a fusion rule names is, from the op registry's traits: the lookup
// hw::load_accelerator checks fusion rules by.
hw::FusionOpKind fusion_op_kind(std::string_view op_type);

// Per group, the candidate indices every one of its ops accepts (the intersection over its ops
// of what the accelerator supports for their class; ops without weights only constrain the
// activation format). An empty intersection is an error naming the group's ops and what each
// accepts.
Result<std::vector<std::vector<int>>> group_candidates(const Network& net,
                                                       const QuantizerPlacement& p,
                                                       const QuantizerGroups& groups,
                                                       const hw::Accelerator& acc);

// The highest of `candidates` by higher_precision (most bit operations per MAC, then most
// activation bits, then name). `candidates` must not be empty.
int highest_candidate(const hw::Accelerator& acc, const std::vector<int>& candidates);

// The baseline: the highest candidate every group supports, for every group. When no single
// candidate is common to all groups (pinned ops), each group takes its own highest.
GroupConfig baseline_candidates(const hw::Accelerator& acc,
                                const std::vector<std::vector<int>>& supported);

}  // namespace mpq
