// MACs (each op's OpTraits::fn.macs) and parameter counts per op, from shapes at batch 1.
#include "network.hpp"

namespace mpq {
namespace {

const Shape* find_shape(const Network& net, const std::string& t) {
  auto it = net.shapes.find(t);
  if (it != net.shapes.end()) return &it->second;
  auto c = net.model.initializers.find(t);
  return c == net.model.initializers.end() ? nullptr : &c->second.shape;
}

std::int64_t op_macs(const Network& net, std::size_t k) {
  const OpNode& n = net.node(k);
  const auto macs = net.traits(k).fn.macs;
  if (!macs) return 0;
  const Shape* y = n.outputs.empty() ? nullptr : find_shape(net, n.outputs[0]);
  const Shape* w = n.inputs.size() > 1 ? find_shape(net, n.inputs[1]) : nullptr;
  const Shape* x = n.inputs.empty() ? nullptr : find_shape(net, n.inputs[0]);
  return y && w && x ? macs(n, *x, *w, *y) : 0;
}

}  // namespace

void compute_op_stats(Network& net) {
  net.stats.assign(net.model.nodes.size(), OpStats{});
  for (std::size_t k = 0; k < net.model.nodes.size(); ++k) {
    const auto& n = net.model.nodes[k];
    auto& s = net.stats[k];
    s.macs = op_macs(net, k);
    for (const auto& in : n.inputs) {
      auto it = net.model.initializers.find(in);
      if (it != net.model.initializers.end() && it->second.is_float())
        s.params += it->second.size();
    }
  }
}

}  // namespace mpq
