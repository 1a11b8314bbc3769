// LayerNorm and RMSNorm written out op by op (opset 9-16 exporters; RMSNorm has no ONNX op
// before opset 23):
//   LayerNorm  d = x - ReduceMean(x); y = d / Sqrt(ReduceMean(d^2) + eps)  [* gamma] [+ beta]
//   RMSNorm    y = x / Sqrt(ReduceMean(x^2) + eps)                         [* gamma]
// d^2 as Pow(d, 2) or Mul(d, d); the division as Div or as Mul by Reciprocal.
#include <algorithm>
#include <optional>

#include "canonical_patterns.hpp"
#include "canonicalize.hpp"
#include "channel_affine.hpp"

namespace mpq {
namespace {

// The first reduced axis when a keepdims ReduceMean reduces the trailing axes of its input.
std::optional<std::int64_t> trailing_axes(const PatternView& v, const OpNode& r) {
  const Shape* in = v.shape(r.inputs.at(0));
  if (r.op_type != "ReduceMean" || !in || r.attr_int("keepdims", 1) == 0) return std::nullopt;
  std::vector<std::int64_t> axes = r.attr_ints("axes");
  if (r.has_input(1)) {
    const Tensor* a = v.constant(r.inputs[1]);
    if (!a || a->is_float()) return std::nullopt;
    axes = a->to_ints();
  }
  const auto rank = static_cast<std::int64_t>(in->size());
  if (axes.empty() || rank == 0) return std::nullopt;
  std::vector<bool> reduced(static_cast<std::size_t>(rank), false);
  for (std::int64_t a : axes) {
    if (a < -rank || a >= rank) return std::nullopt;
    reduced[static_cast<std::size_t>(a < 0 ? a + rank : a)] = true;
  }
  const std::int64_t first = rank - static_cast<std::int64_t>(axes.size());
  for (std::int64_t k = 0; k < rank; ++k)
    if (reduced[static_cast<std::size_t>(k)] != (k >= first)) return std::nullopt;
  return first;
}

// Pow(t, 2) or Mul(t, t) at node k.
bool squares(const PatternView& v, std::size_t k, const std::string& t) {
  const OpNode& n = v.node(k);
  if (n.op_type == "Mul") return n.inputs.size() == 2 && n.inputs[0] == t && n.inputs[1] == t;
  auto e = n.op_type == "Pow" && n.inputs.size() == 2 && n.inputs[0] == t ? v.scalar(n.inputs[1])
                                                                          : std::nullopt;
  return e && *e == 2.0f;
}

struct Tail {
  std::vector<std::size_t> nodes;  // Add(eps), Sqrt, [Reciprocal], Div or Mul
  float eps = 0.0f;
  std::string out;
};

// ReduceMean output `var` -> Add(eps) -> Sqrt -> Div(num, .) or Reciprocal -> Mul(num, .).
std::optional<Tail> divide_by_root(const PatternView& v, const std::string& var,
                                   const std::string& num, std::string& why) {
  Tail t;
  auto k = v.sole_consumer_index(var);
  if (!k || v.node(*k).op_type != "Add") {
    why = "the mean is not followed by an Add of epsilon only";
    return std::nullopt;
  }
  auto eps = v.scalar_operand(v.node(*k), var);
  if (!eps) {
    why = v.node(*k).label() + ": the epsilon is not a constant scalar";
    return std::nullopt;
  }
  t.eps = *eps;
  t.nodes.push_back(*k);
  auto s = v.sole_consumer_index(v.node(*k).outputs[0]);
  if (!s || v.node(*s).op_type != "Sqrt") {
    why = "the variance plus epsilon is not followed by a Sqrt only";
    return std::nullopt;
  }
  t.nodes.push_back(*s);
  std::string root = v.node(*s).outputs[0];
  auto d = v.sole_consumer_index(root);
  if (d && v.node(*d).op_type == "Reciprocal") {
    t.nodes.push_back(*d);
    root = v.node(*d).outputs[0];
    d = v.sole_consumer_index(root);
    if (!d || v.node(*d).op_type != "Mul" || PatternView::other_input(v.node(*d), root) != num) {
      why = "the Reciprocal is not multiplied by '" + num + "' only";
      return std::nullopt;
    }
  } else if (!d || v.node(*d).op_type != "Div" || v.node(*d).inputs.at(0) != num ||
             v.node(*d).inputs.at(1) != root) {
    why = "the Sqrt does not divide '" + num + "' only";
    return std::nullopt;
  }
  t.nodes.push_back(*d);
  t.out = v.node(*d).outputs[0];
  return t;
}

// A constant of `op` applied to `t` that broadcasts over the normalized axes only, expanded to
// their shape; takes the node into `nodes`.
std::optional<Tensor> affine_constant(const PatternView& v, const std::string& t, const char* op,
                                      const Shape& norm, std::vector<std::size_t>& nodes) {
  auto k = v.sole_consumer_index(t);
  if (!k || v.node(*k).op_type != op) return std::nullopt;
  auto c = v.constant_operand(v.node(*k), t);
  const Tensor* ct = c ? v.constant(*c) : nullptr;
  if (!ct || !ct->is_float()) return std::nullopt;
  // Aligned right against the normalized shape; the dims before it must be 1.
  const auto lead =
      static_cast<std::int64_t>(ct->shape.size()) - static_cast<std::int64_t>(norm.size());
  for (std::int64_t i = 0; i < lead; ++i)
    if (ct->shape[static_cast<std::size_t>(i)] != 1) return std::nullopt;
  Shape cs(norm.size(), 1);
  for (std::size_t i = 0; i < norm.size(); ++i) {
    const std::int64_t j = static_cast<std::int64_t>(i) + lead;
    if (j >= 0) cs[i] = ct->shape[static_cast<std::size_t>(j)];
    if (cs[i] != 1 && cs[i] != norm[i]) return std::nullopt;
  }
  Tensor out = Tensor::zeros(norm);
  const auto src_strides = strides_of(cs);
  const auto dst_strides = strides_of(norm);
  for (std::int64_t e = 0; e < out.size(); ++e) {
    std::int64_t src = 0, rest = e;
    for (std::size_t i = 0; i < norm.size(); ++i) {
      const std::int64_t idx = rest / dst_strides[i];
      rest %= dst_strides[i];
      if (cs[i] != 1) src += idx * src_strides[i];
    }
    out.f[e] = ct->f[src];
  }
  nodes.push_back(*k);
  return out;
}

std::string name_or_output(const OpNode& n) {
  return n.name.empty() ? n.outputs.at(0) : n.name;
}

// The normalization node, with its optional Mul (and for LayerNorm Add) by constants.
Rewrite norm_rewrite(const PatternView& v, const std::string& op, const std::string& x,
                     std::int64_t axis, float eps, std::vector<std::size_t> nodes, std::string out,
                     bool with_bias) {
  const Shape& xs = *v.shape(x);
  const Shape norm(xs.begin() + axis, xs.end());
  Rewrite r;
  r.pattern = op == "LayerNormalization" ? "LayerNormalization" : "RMSNorm";
  auto gamma = affine_constant(v, out, "Mul", norm, nodes);
  if (gamma) out = v.node(nodes.back()).outputs[0];
  std::optional<Tensor> beta;
  if (with_bias && (beta = affine_constant(v, out, "Add", norm, nodes)))
    out = v.node(nodes.back()).outputs[0];
  r.node = name_or_output(v.node(nodes.back()));
  const std::string base = r.node;
  std::vector<std::string> inputs = {x};
  if (gamma || op == "LayerNormalization") {
    const std::string s = fresh_initializer_name(v.model(), base + "_scale");
    r.initializers[s] = gamma ? std::move(*gamma) : Tensor::zeros(norm);
    if (!gamma) std::fill(r.initializers[s].f.begin(), r.initializers[s].f.end(), 1.0f);
    inputs.push_back(s);
  }
  if (beta) {
    const std::string b = fresh_initializer_name(v.model(), base + "_bias");
    r.initializers[b] = std::move(*beta);
    inputs.push_back(b);
  }
  OpNode n = fused_node(op, r.node, inputs, out);
  n.attrs["axis"] = axis;
  n.attrs["epsilon"] = eps;
  r.added.push_back(std::move(n));
  r.removed = std::move(nodes);
  return r;
}

}  // namespace

MatchResult match_layer_norm(const PatternView& v, std::size_t anchor) {
  const OpNode& mean = v.node(anchor);
  const auto axis = trailing_axes(v, mean);
  if (!axis) return {};
  const std::string& x = mean.inputs[0];
  auto ks = v.sole_consumer_index(mean.outputs[0]);
  if (!ks) return {};
  const OpNode& sub = v.node(*ks);
  if (sub.op_type != "Sub" || sub.inputs.at(0) != x || sub.inputs.at(1) != mean.outputs[0])
    return {};
  const char* kName = "LayerNormalization";
  const std::string& d = sub.outputs[0];
  const auto& readers = v.consumers(d);
  if (readers.size() != 2 || v.is_graph_output(d))
    return left_unfused(kName, mean,
                        "'" + d + "' is read by " + std::to_string(readers.size()) +
                            " ops, not by the square and the division only");
  const std::size_t sq = squares(v, readers[0], d) ? readers[0] : readers[1];
  if (!squares(v, sq, d)) return left_unfused(kName, mean, "'" + d + "' is not squared");
  auto k2 = v.sole_consumer_index(v.node(sq).outputs[0]);
  if (!k2 || trailing_axes(v, v.node(*k2)) != axis)
    return left_unfused(kName, mean, "the square is not averaged over the same axes only");
  std::string why;
  auto tail = divide_by_root(v, v.node(*k2).outputs[0], d, why);
  if (!tail) return left_unfused(kName, mean, why);
  std::vector<std::size_t> nodes = {anchor, *ks, sq, *k2};
  nodes.insert(nodes.end(), tail->nodes.begin(), tail->nodes.end());
  return {norm_rewrite(v, kName, x, *axis, tail->eps, nodes, tail->out, true), std::nullopt};
}

MatchResult match_rms_norm(const PatternView& v, std::size_t anchor) {
  const OpNode& mean = v.node(anchor);
  const auto axis = trailing_axes(v, mean);
  if (!axis) return {};
  auto sq = v.producer_index(mean.inputs[0]);
  if (!sq || !v.sole_consumer(mean.inputs[0])) return {};
  const std::string& x = v.node(*sq).inputs.at(0);
  if (!squares(v, *sq, x) || !v.shape(x)) return {};
  std::string why;
  auto tail = divide_by_root(v, mean.outputs[0], x, why);
  if (!tail) return left_unfused("RMSNorm", mean, why);
  std::vector<std::size_t> nodes = {*sq, anchor};
  nodes.insert(nodes.end(), tail->nodes.begin(), tail->nodes.end());
  return {norm_rewrite(v, kRMSNormOp, x, *axis, tail->eps, nodes, tail->out, false), std::nullopt};
}

}  // namespace mpq
