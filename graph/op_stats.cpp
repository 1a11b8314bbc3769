// MACs and parameter counts per op, from shapes at batch 1.
#include "network.hpp"

namespace mpq {
namespace {

const Shape* find_shape(const Network& net, const std::string& t) {
  auto it = net.shapes.find(t);
  if (it != net.shapes.end()) return &it->second;
  auto c = net.model.initializers.find(t);
  return c == net.model.initializers.end() ? nullptr : &c->second.shape;
}

std::int64_t op_macs(const Network& net, const OpNode& n) {
  const Shape* y = n.outputs.empty() ? nullptr : find_shape(net, n.outputs[0]);
  const Shape* w = n.inputs.size() > 1 ? find_shape(net, n.inputs[1]) : nullptr;
  const Shape* x = n.inputs.empty() ? nullptr : find_shape(net, n.inputs[0]);
  if (!y || !w || !x) return 0;
  if (n.op_type == "Conv" && w->size() >= 2) {
    // Each output element accumulates Cin/groups x kernel window products.
    std::int64_t per_out = 1;
    for (std::size_t k = 1; k < w->size(); ++k) per_out *= (*w)[k];
    return numel(*y) * per_out;
  }
  if (n.op_type == "ConvTranspose" && w->size() >= 2) {
    // Each input element scatters into Cout/groups x kernel window outputs.
    std::int64_t per_in = 1;
    for (std::size_t k = 1; k < w->size(); ++k) per_in *= (*w)[k];
    return numel(*x) * per_in;
  }
  if (n.op_type == "Gemm" && x->size() == 2) {
    const std::int64_t kdim = n.attr_int("transA", 0) ? (*x)[0] : (*x)[1];
    return numel(*y) * kdim;
  }
  if (n.op_type == "MatMul" && !x->empty()) return numel(*y) * x->back();
  return 0;
}

}  // namespace

void compute_op_stats(Network& net) {
  net.stats.assign(net.model.nodes.size(), OpStats{});
  for (std::size_t k = 0; k < net.model.nodes.size(); ++k) {
    const auto& n = net.model.nodes[k];
    auto& s = net.stats[k];
    s.macs = op_macs(net, n);
    for (const auto& in : n.inputs) {
      auto it = net.model.initializers.find(in);
      if (it != net.model.initializers.end() && it->second.is_float())
        s.params += it->second.size();
    }
  }
}

}  // namespace mpq
