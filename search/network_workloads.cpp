#include "network_workloads.hpp"

#include <algorithm>

#include "graph/op_class.hpp"

namespace mpq {
namespace {

Shape shape_of(const Network& net, const std::string& t) {
  if (auto s = net.shapes.find(t); s != net.shapes.end()) return s->second;
  if (auto c = net.model.initializers.find(t); c != net.model.initializers.end())
    return c->second.shape;
  return {};
}

// Sets the GEMM view; falls back to a flat M x 1 x 1 view when the shapes do not multiply out to
// the op's MAC count (an op whose shapes were unknown), so totals stay right.
void set_gemm(hw::LayerWorkload& w, std::int64_t count, std::int64_t m, std::int64_t n,
              std::int64_t k) {
  if (count > 0 && m > 0 && n > 0 && k > 0 && count * m * n * k == w.macs) {
    w.gemm_count = count, w.gemm_m = m, w.gemm_n = n, w.gemm_k = k;
    return;
  }
  w.gemm_count = 1, w.gemm_m = w.macs, w.gemm_n = 1, w.gemm_k = 1;
}

}  // namespace

hw::LayerWorkload workload_of(const Network& net, std::size_t node) {
  const OpNode& n = net.node(node);
  hw::LayerWorkload w;
  w.name = n.name.empty() ? n.outputs.at(0) : n.name;
  w.op_class = op_class_name(classify_op(net, node));
  w.macs = net.stats[node].macs;
  const Shape x = shape_of(net, n.inputs.at(0));
  const Shape wt = n.has_input(1) ? shape_of(net, n.inputs[1]) : Shape{};
  const Shape y = shape_of(net, n.outputs.at(0));
  w.input_elements = numel(x);
  w.output_elements = numel(y);
  w.weight_elements = numel(wt);
  w.weight_is_activation = n.has_input(1) && !net.model.is_constant(n.inputs[1]);
  const auto view = net.traits(node).fn.gemm_view;
  const GemmView v = view ? view(n, x, wt, y, w.macs, w.weight_is_activation) : GemmView{};
  set_gemm(w, v.count, v.m, v.n, v.k);
  return w;
}

std::vector<NetworkLayer> network_layers(const Network& net, const QuantizerPlacement& p,
                                         const QuantizerGroups& groups) {
  auto group_of = [&](const Quantizer* q) {
    return q ? static_cast<int>(groups.group_of[static_cast<std::size_t>(q - p.quantizers.data())])
             : -1;
  };
  std::vector<NetworkLayer> layers;
  for (std::size_t k : net.order) {
    if (!is_mac_class(classify_op(net, k)) || net.stats[k].macs <= 0) continue;
    NetworkLayer l;
    l.node = k;
    l.workload = workload_of(net, k);
    l.groups.mac = group_of(p.input_quantizer(net, k, 0));
    if (l.groups.mac < 0) l.groups.mac = group_of(p.input_quantizer(net, k, 1));  // weight's group
    if (l.groups.mac < 0) continue;  // nothing quantized: no candidate decides its cost
    if (l.workload.weight_is_activation) l.groups.operand = group_of(p.input_quantizer(net, k, 1));
    if (auto q = output_quantizer(net, p, k)) l.groups.output = group_of(&p.quantizers[*q]);
    layers.push_back(std::move(l));
  }
  return layers;
}

}  // namespace mpq
