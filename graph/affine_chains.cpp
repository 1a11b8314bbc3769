// Affine chains after a weighted op: exporters that write BatchNorm (or a bias, or a scale) as
// Mul/Add/Sub/Div by per-channel constants leave a chain the op can absorb exactly:
// y = s * (W x + b) + t = (s W) x + (s b + t).
#include <cmath>

#include "canonical_patterns.hpp"
#include "channel_affine.hpp"

namespace mpq {
namespace {

bool is_affine_op(const std::string& op) {
  return op == "Mul" || op == "Add" || op == "Sub" || op == "Div";
}

// The constant as one value per channel of an output of shape `out` (channel axis `axis`):
// its dims, aligned right against `out`, are 1 except, optionally, the channel axis.
bool channel_vector(const Tensor& c, const Shape& out, std::size_t axis, std::vector<double>& v,
                    std::string& why) {
  if (!c.is_float() || c.rank() > static_cast<std::int64_t>(out.size())) {
    why = "the constant is not float or has more dims than the output";
    return false;
  }
  const std::size_t lead = out.size() - static_cast<std::size_t>(c.rank());
  bool per_channel = false;
  for (std::size_t i = 0; i < c.shape.size(); ++i) {
    if (c.shape[i] == 1) continue;
    if (lead + i == axis && c.shape[i] == out[axis]) {
      per_channel = true;
      continue;
    }
    why = "the constant of shape " + shape_str(c.shape) + " varies along axis " +
          std::to_string(lead + i) + " of " + shape_str(out) + ", not the channel axis " +
          std::to_string(axis);
    return false;
  }
  const std::int64_t channels = out[axis];
  v.assign(static_cast<std::size_t>(channels), 0.0);
  for (std::int64_t k = 0; k < channels; ++k) v[k] = c.f[per_channel ? k : 0];
  return true;
}

struct Chain {
  std::vector<std::size_t> nodes;
  std::vector<double> scale, shift;
  bool multiplies = false;
  std::string end;     // the output of the chain's last op
  std::string reason;  // why it stopped at an affine op it could not take, if it did
};

// Takes the affine ops after `t` one by one while each is the sole reader of its input.
void extend(const PatternView& v, std::string t, const Shape& out, std::size_t axis, Chain& c) {
  for (;;) {
    std::string why;
    auto k = v.sole_consumer_index(t);
    if (!k) {
      // Listed only at the chain's start: later, a shared value is where the chain ends (a
      // GELU's input, say), not a partial match.
      for (std::size_t r : v.consumers(t))
        if (c.nodes.empty() && is_affine_op(v.node(r).op_type) &&
            v.constant_operand(v.node(r), t)) {
          v.sole_consumer(t, &why);
          c.reason = why;
        }
      return;
    }
    const OpNode& n = v.node(*k);
    int pos = -1;
    if (!is_affine_op(n.op_type)) return;
    auto cname = v.constant_operand(n, t, &pos);
    if (!cname) return;
    std::vector<double> val;
    if (!channel_vector(*v.constant(*cname), out, axis, val, why)) {
      c.reason = n.label() + ": " + why;
      return;
    }
    const std::string& op = n.op_type;
    if (op == "Div" && pos == 0) return;  // c / x is not affine
    if (op == "Div")
      for (double x : val)
        if (x == 0.0) {
          c.reason = n.label() + ": divides by zero";
          return;
        }
    for (std::size_t ch = 0; ch < val.size(); ++ch) {
      double& s = c.scale[ch];
      double& b = c.shift[ch];
      if (op == "Mul") {
        s *= val[ch];
        b *= val[ch];
      } else if (op == "Div") {
        s /= val[ch];
        b /= val[ch];
      } else if (op == "Add") {
        b += val[ch];
      } else if (pos == 1) {  // x - c
        b -= val[ch];
      } else {  // c - x
        s = -s;
        b = val[ch] - b;
      }
    }
    c.multiplies = c.multiplies || op == "Mul" || op == "Div" || (op == "Sub" && pos == 0);
    c.nodes.push_back(*k);
    c.end = n.outputs[0];
    t = c.end;
  }
}

}  // namespace

MatchResult match_affine_chain(const PatternView& v, std::size_t anchor) {
  const OpNode& p = v.node(anchor);
  const Model& m = v.model();
  const std::string& op = p.op_type;
  if (op != "Conv" && op != "ConvTranspose" && op != "Gemm" && op != "MatMul") return {};
  const auto channels = foldable_channels(m, p);
  const Shape* out = channels ? v.shape(p.outputs[0]) : nullptr;
  if (!out || out->size() < 2) return {};
  const std::size_t axis = (op == "Conv" || op == "ConvTranspose") ? 1 : out->size() - 1;
  if ((*out)[axis] != *channels) return {};
  Chain c;
  c.scale.assign(static_cast<std::size_t>(*channels), 1.0);
  c.shift.assign(static_cast<std::size_t>(*channels), 0.0);
  extend(v, p.outputs[0], *out, axis, c);
  // MatMul keeps a single bias Add (it has no bias input): nothing to fold then.
  const bool nothing = c.nodes.empty() || (op == "MatMul" && !c.multiplies && c.nodes.size() == 1);
  if (nothing) {
    if (c.reason.empty()) return {};
    return {std::nullopt, Unfused{"affine chain", p.label(), c.reason}};
  }
  ChannelAffine a;
  for (std::size_t ch = 0; ch < c.scale.size(); ++ch) {
    a.scale.push_back(static_cast<float>(c.scale[ch]));
    a.shift.push_back(static_cast<float>(c.shift[ch]));
  }
  auto folded = fold_channel_affine(m, p, a, v.uses(), "affine");
  Rewrite r;
  r.pattern = "affine chain";
  r.node = p.name.empty() ? p.outputs[0] : p.name;
  r.removed = {anchor};
  r.removed.insert(r.removed.end(), c.nodes.begin(), c.nodes.end());
  r.initializers = std::move(folded.initializers);
  if (op == "MatMul" && a.shifts()) {
    // The MatMul keeps its output name; an Add of the per-column shift ends the chain.
    const std::string bias = fresh_initializer_name(m, r.node + "_affine_bias");
    Tensor t = Tensor::zeros({*channels});
    for (std::int64_t k = 0; k < *channels; ++k) t.f[k] = a.shift[k];
    r.initializers[bias] = std::move(t);
    r.added.push_back(std::move(folded.node));
    r.added.push_back(fused_node("Add", v.node(c.nodes.back()).name, {p.outputs[0], bias}, c.end));
  } else {
    folded.node.outputs[0] = c.end;
    r.added.push_back(std::move(folded.node));
  }
  return {std::move(r), std::nullopt};
}

}  // namespace mpq
