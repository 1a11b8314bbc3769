#include "quantizer_groups.hpp"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/connected_components.hpp>
#include <cassert>
#include <map>

#include "op_class.hpp"

namespace mpq {
namespace {

using ShareGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS>;

const Quantizer* activation_input(const QuantizerPlacement& p, const Network& net, std::size_t node,
                                  std::size_t k) {
  const Quantizer* q = p.input_quantizer(net, node, k);
  return q && q->kind == QuantizerKind::Activation ? q : nullptr;
}

std::size_t index_of(const QuantizerPlacement& p, const Quantizer* q) {
  return static_cast<std::size_t>(q - p.quantizers.data());
}

// "Must share" edges: a weight with the activation its op consumes; the float activation
// inputs of every op a rule names with each other.
ShareGraph share_graph(const Network& net, const QuantizerPlacement& p,
                       const GroupingRules& rules) {
  ShareGraph g(p.quantizers.size());
  for (std::size_t k : net.order) {
    const OpNode& n = net.node(k);
    if (has_weight_quantizer(net, k) && n.has_input(1)) {
      const Quantizer* w = p.find(n.inputs[1]);
      const Quantizer* x = activation_input(p, net, k, 0);
      if (w && w->kind == QuantizerKind::Weight && x)
        boost::add_edge(index_of(p, w), index_of(p, x), g);
    }
    if (!rules.unify_inputs.count(n.op_type)) continue;
    const Quantizer* first = nullptr;
    for (std::size_t j = 0; j < n.inputs.size(); ++j) {
      const Quantizer* x = activation_input(p, net, k, j);
      if (!x) continue;
      if (first && first != x) boost::add_edge(index_of(p, first), index_of(p, x), g);
      if (!first) first = x;
    }
  }
  return g;
}

void add_unique(std::vector<std::size_t>& v, std::size_t x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

}  // namespace

std::optional<std::size_t> output_quantizer(const Network& net, const QuantizerPlacement& p,
                                            std::size_t node) {
  const OpNode& n = net.node(node);
  if (n.outputs.empty()) return std::nullopt;
  if (auto it = p.format_source.find(n.outputs[0]); it != p.format_source.end()) return it->second;
  // Fused with a sole Relu/Clip: the quantizer sits on that consumer's output.
  std::size_t consumer = 0, count = 0;
  for (std::size_t k : net.order)
    for (const auto& in : net.node(k).inputs)
      if (in == n.outputs[0]) consumer = k, ++count;
  if (count != 1) return std::nullopt;
  const OpNode& c = net.node(consumer);
  if (c.op_type != "Relu" && c.op_type != "Clip") return std::nullopt;
  auto it = p.format_source.find(c.outputs.at(0));
  if (it == p.format_source.end()) return std::nullopt;
  return it->second;
}

QuantizerGroups build_quantizer_groups(const Network& net, const QuantizerPlacement& p,
                                       const GroupingRules& rules) {
  const ShareGraph g = share_graph(net, p, rules);
  std::vector<int> component(p.quantizers.size());
  const int n_components =
      p.quantizers.empty() ? 0 : boost::connected_components(g, component.data());

  // Number groups by their first quantizer (activations come first, in topological order).
  QuantizerGroups out;
  std::vector<int> group_of_component(static_cast<std::size_t>(n_components), -1);
  out.group_of.resize(p.quantizers.size());
  for (std::size_t q = 0; q < p.quantizers.size(); ++q) {
    int& gid = group_of_component[static_cast<std::size_t>(component[q])];
    if (gid < 0) {
      gid = static_cast<int>(out.groups.size());
      out.groups.emplace_back();
      out.groups.back().name = p.quantizers[q].name;
    }
    out.group_of[q] = static_cast<std::size_t>(gid);
    QuantizerGroup& grp = out.groups[static_cast<std::size_t>(gid)];
    const Quantizer& qz = p.quantizers[q];
    grp.quantizers.push_back(q);
    grp.model_input |= qz.kind == QuantizerKind::Activation && qz.node == Quantizer::kNoNode;
    grp.model_output |= qz.model_output;
    if (qz.kind == QuantizerKind::Weight) {
      auto it = net.model.initializers.find(qz.name);
      assert(it != net.model.initializers.end());
      grp.params += static_cast<std::int64_t>(it->second.size());
    }
  }

  for (std::size_t k : net.order) {
    const OpNode& n = net.node(k);
    if (is_data_movement_node(net, k)) continue;
    for (std::size_t j = 0; j < n.inputs.size(); ++j)
      if (const Quantizer* q = p.input_quantizer(net, k, j))
        add_unique(out.groups[out.group_of[index_of(p, q)]].ops, k);
    if (!is_mac_class(classify_op(net, k))) continue;
    if (const Quantizer* x = activation_input(p, net, k, 0)) {
      QuantizerGroup& grp = out.groups[out.group_of[index_of(p, x)]];
      grp.mac_ops.push_back(k);
      grp.macs += net.stats[k].macs;
    }
  }
  return out;
}

}  // namespace mpq
