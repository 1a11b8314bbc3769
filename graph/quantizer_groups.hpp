#pragma once
// Quantizer groups (ALGORITHMS.md, Vocabulary): quantizers that hardware forces to share one
// candidate. The basic group is one activation quantizer with the weight quantizers of every op
// that consumes its activation (seen through data-movement ops via format_source): the consumer's
// MACs run at that activation's precision. Model inputs and outputs are activation quantizers, so
// they get groups of their own. Grouping rules then merge groups: connected components over
// "must share" edges.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "network.hpp"
#include "quantizer_placement.hpp"

namespace mpq {

// Graph-side form of an accelerator's grouping rules (hw/ has its own; search/ converts).
struct GroupingRules {
  std::set<std::string> unify_inputs;  // op types whose float activation inputs share one group
};

struct QuantizerGroup {
  std::string name;                     // its first activation quantizer (topological order)
  std::vector<std::size_t> quantizers;  // indices into QuantizerPlacement::quantizers
  std::vector<std::size_t> ops;         // nodes that read the group's activations or weights,
                                        // data-movement ops left out (they pass formats through)
  std::vector<std::size_t> mac_ops;     // MAC ops whose first input is in the group
  std::int64_t macs = 0;                // of mac_ops, per sample
  std::int64_t params = 0;              // elements of the group's weight tensors
  bool model_input = false;
  bool model_output = false;
};

struct QuantizerGroups {
  std::vector<QuantizerGroup> groups;  // ordered by their first quantizer
  std::vector<std::size_t> group_of;   // per quantizer index
};

QuantizerGroups build_quantizer_groups(const Network& net, const QuantizerPlacement& p,
                                       const GroupingRules& rules);

// The activation quantizer that holds node `node`'s output format: the output's own (or its
// pass-through source), or, for a compute op fused with its sole Relu/Clip consumer, that
// consumer's. nullopt when the output is not quantized.
std::optional<std::size_t> output_quantizer(const Network& net, const QuantizerPlacement& p,
                                            std::size_t node);

}  // namespace mpq
