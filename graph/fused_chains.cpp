#include "fused_chains.hpp"

#include <algorithm>

namespace mpq {
namespace {

constexpr const char* kAny = "*";

// The one node that reads `n`'s only output, when nothing else (and no graph output) does.
const std::size_t* sole_consumer(const OpNode& n,
                                 const std::map<std::string, std::vector<std::size_t>>& consumers,
                                 const std::set<std::string>& model_outputs) {
  if (n.outputs.size() != 1 || model_outputs.count(n.outputs[0])) return nullptr;
  auto c = consumers.find(n.outputs[0]);
  if (c == consumers.end() || c->second.size() != 1) return nullptr;
  return &c->second[0];
}

bool starts(const std::vector<std::string>& seq, const Network& net, std::size_t k) {
  const OpNode& n = net.node(k);
  if (seq[0] != kAny) return n.op_type == seq[0];
  return !is_data_movement_node(net, k) && n.op_type != seq[1];
}

}  // namespace

PlacementRules PlacementRules::defaults() {
  return {{{kAny, "Relu"}, {kAny, "Clip"}}, {}};
}

std::string PlacementRules::describe() const {
  std::string s;
  for (const auto& seq : fused_sequences) {
    if (!s.empty()) s += ", ";
    for (std::size_t k = 0; k < seq.size(); ++k) s += (k ? ">" : "") + seq[k];
  }
  if (!internal_precision.empty()) {
    s += "; internal:";
    for (const auto& op : internal_precision) s += " " + op;
  }
  return s;
}

std::set<std::string> fused_intermediates(
    const Network& net, const PlacementRules& rules,
    const std::map<std::string, std::vector<std::size_t>>& consumers,
    const std::set<std::string>& model_outputs) {
  std::set<std::string> fused;
  for (std::size_t k : net.order) {
    const OpNode& first = net.node(k);
    if (std::find(rules.internal_precision.begin(), rules.internal_precision.end(),
                  first.op_type) != rules.internal_precision.end())
      for (const auto& o : first.outputs)
        if (!model_outputs.count(o)) fused.insert(o);
    for (const auto& seq : rules.fused_sequences) {
      if (seq.size() < 2 || !starts(seq, net, k)) continue;
      std::vector<std::size_t> chain = {k};
      for (std::size_t i = 1; i < seq.size(); ++i) {
        const std::size_t* next = sole_consumer(net.node(chain.back()), consumers, model_outputs);
        if (!next || net.node(*next).op_type != seq[i]) break;
        chain.push_back(*next);
      }
      if (chain.size() != seq.size()) continue;
      for (std::size_t i = 0; i + 1 < chain.size(); ++i)
        fused.insert(net.node(chain[i]).outputs[0]);
    }
  }
  return fused;
}

}  // namespace mpq
