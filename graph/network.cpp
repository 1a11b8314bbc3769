#include "network.hpp"

#include <boost/graph/topological_sort.hpp>
#include <set>

namespace mpq {

Result<Network> build_network(Model model, OpTraitsLookup lookup) {
  Network net;
  net.model = std::move(model);
  const auto& nodes = net.model.nodes;
  for (const auto& n : nodes) {
    net.op_traits.push_back(lookup(n.op_type));
    if (!net.op_traits.back()) return make_error(n.label() + ": op type not supported by mpq");
  }
  std::set<std::string> inputs;
  for (const auto& v : net.model.inputs) inputs.insert(v.name);

  for (std::size_t k = 0; k < nodes.size(); ++k) {
    boost::add_vertex(OpVertex{k}, net.graph);
    for (const auto& out : nodes[k].outputs) {
      if (out.empty()) continue;
      if (net.producer_of.count(out) || net.model.is_constant(out) || inputs.count(out))
        return make_error("tensor '" + out + "' is defined twice (second time by " +
                          nodes[k].label() + ")");
      net.producer_of[out] = k;
    }
  }
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    for (const auto& in : nodes[k].inputs) {
      if (in.empty() || net.model.is_constant(in) || inputs.count(in)) continue;
      auto it = net.producer_of.find(in);
      if (it == net.producer_of.end())
        return make_error(nodes[k].label() + " reads tensor '" + in +
                          "', which no node, input or initializer defines");
      boost::add_edge(it->second, k, TensorEdge{in}, net.graph);
    }
  }
  for (const auto& out : net.model.outputs)
    if (!net.producer_of.count(out.name) && !net.model.is_constant(out.name) &&
        !inputs.count(out.name))
      return make_error("graph output '" + out.name + "' is not produced by any node");

  std::vector<OpGraph::vertex_descriptor> rev;
  try {
    boost::topological_sort(net.graph, std::back_inserter(rev));
  } catch (const boost::not_a_dag&) {
    return make_error("the graph has a cycle; ONNX graphs must be acyclic");
  }
  net.order.assign(rev.rbegin(), rev.rend());
  for (auto& v : net.order) v = net.graph[v].node;
  return net;
}

}  // namespace mpq
