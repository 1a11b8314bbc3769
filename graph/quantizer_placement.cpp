#include "quantizer_placement.hpp"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstdio>
#include <set>

#include "fused_chains.hpp"

namespace mpq {
namespace {

bool is_float(const Network& net, const std::string& t) {
  if (t.empty()) return false;
  auto it = net.dtypes.find(t);
  if (it != net.dtypes.end()) return it->second == DType::Float32;
  auto c = net.model.initializers.find(t);
  return c != net.model.initializers.end() && c->second.is_float();
}

// Node k's output carries the format of its first float input.
bool passes_format_through(const Network& net, std::size_t k) {
  switch (net.traits(k).placement) {
    case PlacementRole::DataMovement:
      return true;
    case PlacementRole::PassThroughWhenNearest:
      return net.node(k).attr_string("mode", "nearest") == "nearest";
    case PlacementRole::Compute:
      return false;
  }
  return false;
}

// Tensors that only feed the denominator side of a normalization (Sqrt, Reciprocal, Log, a
// Div's divisor, and the ReduceMean / constant Add-Sub-Mul-Pow steps leading to them) get no
// activation quantizer: deployment toolchains compute such chains (a LayerNorm's variance,
// an RMSNorm's mean square) at internal precision, and an 8-bit variance rounded to zero
// would turn the Div into inf or NaN, which no hardware does. Decided consumers first, so a
// chain is recognized from its sink backwards.
std::set<std::string> internal_precision_tensors(
    const Network& net, const std::map<std::string, std::vector<std::size_t>>& consumers,
    const std::set<std::string>& outputs) {
  const Model& m = net.model;
  std::set<std::string> internal;
  const auto other_operand_constant = [&](const OpNode& c, const std::string& t) {
    return c.inputs.size() == 2 && ((c.inputs[0] == t && m.is_constant(c.inputs[1])) ||
                                    (c.inputs[1] == t && m.is_constant(c.inputs[0])));
  };
  const auto feeds_sink = [&](const OpNode& c, const std::string& t) {
    const std::string& op = c.op_type;
    if (op == "Sqrt" || op == "Reciprocal" || op == "Log") return true;
    if (op == "Div") return c.inputs.size() == 2 && c.inputs[0] != t && c.inputs[1] == t;
    const bool step =
        op == "ReduceMean" || ((op == "Add" || op == "Sub" || op == "Mul" || op == "Pow") &&
                               other_operand_constant(c, t));
    return step && c.outputs.size() == 1 && internal.count(c.outputs[0]) != 0;
  };
  for (auto it = net.order.rbegin(); it != net.order.rend(); ++it)
    for (const auto& out : m.nodes[*it].outputs) {
      auto c = consumers.find(out);
      if (outputs.count(out) || c == consumers.end()) continue;
      if (std::all_of(c->second.begin(), c->second.end(),
                      [&](std::size_t k) { return feeds_sink(m.nodes[k], out); }))
        internal.insert(out);
    }
  return internal;
}

// The axis an activation's MAC consumers reduce over, for block-scaled formats (ours): ONNX
// vision tensors are NCHW, so a rank >= 4 tensor reduces over its channels (axis 1: a Conv's
// input channels) unless only MatMul/Gemm consume it (attention: the last axis); a rank-3 tensor
// is [batch, tokens, features] (last axis) unless a Conv (1-D) consumes it; rank 2: axis 1. The
// blocks of a tensor with no MAC consumer (an Add's input) follow the same rule. A MatMul's
// second operand reduces over axis -2 in truth; it gets the rule's axis too (stated in the
// README).
int activation_reduction_axis(const Network& net, const std::string& t,
                              const std::vector<std::size_t>* consumers) {
  auto s = net.shapes.find(t);
  if (s == net.shapes.end() || s->second.empty()) return -1;
  const int rank = static_cast<int>(s->second.size());
  bool conv = false, matmul = false;
  if (consumers)
    for (std::size_t k : *consumers) {
      const OpClass c = net.traits(k).op_class;
      conv =
          conv || c == OpClass::Conv || c == OpClass::DepthwiseConv || c == OpClass::ConvTranspose;
      matmul = matmul || c == OpClass::Gemm || c == OpClass::MatMul;
    }
  if (rank >= 4) return matmul && !conv ? rank - 1 : 1;
  if (rank == 3) return conv ? 1 : 2;
  return rank - 1;
}

// A weight's input-channel axis: the axis next to its output-channel axis (Conv [Cout, Cin/g,
// k...]: 1; ConvTranspose [Cin, Cout/g, k...]: 0; Gemm/MatMul [K, N]: 0, transposed [N, K]: 1).
// A depthwise Conv has one input channel per output: its blocks span the kernel window.
void set_weight_reduction(Quantizer& q, const Shape& w) {
  const int rank = static_cast<int>(w.size());
  if (q.channel_axis < 0 || rank < 2) return;
  q.reduction_axis = q.channel_axis == 0 ? 1 : q.channel_axis - 1;
  if (q.channel_axis == 0 && rank > 2 && w[1] == 1) q.reduction_axes = rank - 1;
}

}  // namespace

bool is_data_movement_node(const Network& net, std::size_t k) {
  return net.traits(k).placement == PlacementRole::DataMovement;
}

bool has_weight_quantizer(const Network& net, std::size_t k) {
  return net.traits(k).fn.weight_channel_axis != nullptr;
}

const Quantizer* QuantizerPlacement::find(const std::string& name) const {
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : &quantizers[it->second];
}

const Quantizer* QuantizerPlacement::input_quantizer(const Network& net, std::size_t node,
                                                     std::size_t k) const {
  const OpNode& n = net.node(node);
  if (!n.has_input(k)) return nullptr;
  const std::string& t = n.inputs[k];
  if (const Quantizer* q = find(t); q && q->kind == QuantizerKind::Weight) return q;
  auto it = format_source.find(t);
  return it == format_source.end() ? nullptr : &quantizers[it->second];
}

QuantizerPlacement place_quantizers(const Network& net, const PlacementRules& rules) {
  const Model& m = net.model;
  std::map<std::string, std::vector<std::size_t>> consumers;
  for (std::size_t k : net.order)
    for (const auto& in : m.nodes[k].inputs)
      if (!in.empty()) consumers[in].push_back(k);
  std::set<std::string> outputs;
  for (const auto& o : m.outputs) outputs.insert(o.name);

  const std::set<std::string> fused = fused_intermediates(net, rules, consumers, outputs);
  const std::set<std::string> internal = internal_precision_tensors(net, consumers, outputs);
  QuantizerPlacement p;
  p.rules = rules.describe();
  std::map<std::string, bool> non_negative;  // per float activation tensor
  auto add_activation = [&](const std::string& t, std::size_t node, bool nonneg) {
    Quantizer q;
    q.name = t;
    q.kind = QuantizerKind::Activation;
    q.node = node;
    q.non_negative = nonneg;
    q.model_output = outputs.count(t) != 0;
    auto c = consumers.find(t);
    q.reduction_axis =
        activation_reduction_axis(net, t, c == consumers.end() ? nullptr : &c->second);
    p.by_name[t] = p.quantizers.size();
    p.format_source[t] = p.quantizers.size();
    p.quantizers.push_back(q);
  };

  for (const auto& in : m.inputs)
    if (in.dtype == DType::Float32) {
      add_activation(in.name, Quantizer::kNoNode, false);
      non_negative[in.name] = false;
    }

  for (std::size_t k : net.order) {
    const OpNode& n = m.nodes[k];
    // First float input that carries a format, and whether all float inputs are >= 0.
    const std::string* source = nullptr;
    bool all_inputs_nonneg = true, any_float_input = false;
    for (const auto& in : n.inputs) {
      if (!is_float(net, in) || m.is_constant(in)) continue;
      any_float_input = true;
      auto nn = non_negative.find(in);
      all_inputs_nonneg = all_inputs_nonneg && nn != non_negative.end() && nn->second;
      if (!source && p.format_source.count(in)) source = &in;
    }
    const bool passes_through = passes_format_through(net, k) && source != nullptr;
    const bool inputs_nonneg = any_float_input && all_inputs_nonneg;
    const auto sign = net.traits(k).fn.output_non_negative;
    const bool nonneg = sign ? sign(net, n, inputs_nonneg) : passes_through && inputs_nonneg;

    for (const auto& out : n.outputs) {
      if (!is_float(net, out)) continue;
      non_negative[out] = nonneg;
      if (passes_through) {
        p.format_source[out] = p.format_source.at(*source);
        if (outputs.count(out)) p.quantizers[p.format_source[out]].model_output = true;
        continue;
      }
      // Inside a fused chain: the quantizer goes on the chain's last output. A tensor computed at
      // internal precision (a normalization's denominator side) has none.
      if (fused.count(out) || internal.count(out)) continue;
      add_activation(out, k, nonneg);
    }
  }

  for (std::size_t k : net.order) {
    const OpNode& n = m.nodes[k];
    if (!has_weight_quantizer(net, k) || !n.has_input(1)) continue;
    const std::string& w = n.inputs[1];
    auto it = m.initializers.find(w);
    if (it == m.initializers.end() || !it->second.is_float() || p.by_name.count(w)) continue;
    Quantizer q;
    q.name = w;
    q.kind = QuantizerKind::Weight;
    q.node = k;
    q.channel_axis = net.traits(k).fn.weight_channel_axis(n, it->second.shape);
    set_weight_reduction(q, it->second.shape);
    p.by_name[w] = p.quantizers.size();
    p.quantizers.push_back(q);
  }
  return p;
}

std::string placement_fingerprint(const QuantizerPlacement& p) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a, 64 bits
  const auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    h = (h ^ 0xffU) * 1099511628211ULL;
  };
  for (const auto& q : p.quantizers) mix((q.kind == QuantizerKind::Weight ? "w:" : "a:") + q.name);
  mix(p.rules);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::to_string(p.quantizers.size()) + "-" + buf;
}

}  // namespace mpq
