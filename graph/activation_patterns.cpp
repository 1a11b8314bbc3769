// Activations written out op by op, and products with a gate: HardSigmoid, HardSwish, SiLU,
// Softplus and the squeeze-excitation scale.
#include <limits>

#include "canonical_patterns.hpp"
#include "canonicalize.hpp"

namespace mpq {
namespace {

std::string name_or_output(const OpNode& n) {
  return n.name.empty() ? n.outputs.at(0) : n.name;
}

// A Div by `d` or a Mul by 1/d reading `t`.
bool divides_by(const PatternView& v, const OpNode& n, const std::string& t, double d) {
  auto s = v.scalar_operand(n, t);
  if (!s) return false;
  return (n.op_type == "Div" && near(*s, d)) || (n.op_type == "Mul" && near(*s, 1.0 / d));
}

// HardSigmoid(x; alpha, beta) replacing `nodes`, ending at `last`'s output.
Rewrite hard_sigmoid(const OpNode& last, const std::string& x, float alpha, float beta,
                     std::vector<std::size_t> nodes) {
  Rewrite r;
  r.pattern = "HardSigmoid";
  r.node = name_or_output(last);
  r.added.push_back(fused_node("HardSigmoid", r.node, {x}, last.outputs.at(0)));
  r.added[0].attrs = {{"alpha", alpha}, {"beta", beta}};
  r.removed = std::move(nodes);
  return r;
}

}  // namespace

Rewrite gated_product(const std::string& x, const std::string& g, const std::string& gate,
                      float alpha, float beta, const std::string& name, const std::string& out) {
  Rewrite r;
  if (x == g && gate == "HardSigmoid" && near(alpha, 1.0 / 6.0) && near(beta, 0.5)) {
    r.pattern = "HardSwish";
    r.added.push_back(fused_node("HardSwish", name, {x}, out));
  } else if (x == g && gate == "Sigmoid") {
    r.pattern = "SiLU";
    r.added.push_back(fused_node(kSiLUOp, name, {x}, out));
  } else {
    r.pattern = "gated Mul";
    OpNode n = fused_node(kGateMulOp, name, {x, g}, out);
    n.attrs["gate"] = gate;
    if (gate == "HardSigmoid") {
      n.attrs["alpha"] = alpha;
      n.attrs["beta"] = beta;
    }
    r.added.push_back(std::move(n));
  }
  r.node = name;
  return r;
}

// Log(Add(Exp(x), 1)) -> Softplus(x).
MatchResult match_softplus(const PatternView& v, std::size_t anchor) {
  const OpNode& log = v.node(anchor);
  if (log.op_type != "Log") return {};
  const OpNode* add = v.producer(log.inputs.at(0));
  if (!add || add->op_type != "Add") return {};
  std::string e;
  for (const auto& in : add->inputs)
    if (const OpNode* p = v.producer(in); p && p->op_type == "Exp") e = in;
  const OpNode* exp = e.empty() ? nullptr : v.producer(e);
  if (!exp) return {};
  auto one = v.scalar_operand(*add, e);
  if (!one || !near(*one, 1.0)) return left_unfused("Softplus", log, "the Add to Exp is not +1");
  std::string why;
  if (!v.sole_consumer(e, &why) || !v.sole_consumer(add->outputs[0], &why))
    return left_unfused("Softplus", log, why);
  Rewrite r;
  r.pattern = "Softplus";
  r.node = name_or_output(log);
  r.removed = {*v.producer_index(e), *v.producer_index(log.inputs[0]), anchor};
  r.added.push_back(fused_node("Softplus", r.node, {exp->inputs.at(0)}, log.outputs.at(0)));
  return {std::move(r), std::nullopt};
}

// Clip(0, c) of Add(x, b), then a Div by c: HardSigmoid(x; 1/c, b/c); with a Mul by y between
// the Clip and the Div: y * HardSigmoid(x) (HardSwish when y is x). Also Clip(0, 1) of
// Add(Mul(x, a), b): HardSigmoid(x; a, b).
MatchResult match_written_hard_sigmoid(const PatternView& v, std::size_t anchor) {
  const OpNode& clip = v.node(anchor);
  if (clip.op_type != "Clip" || clip.inputs.empty()) return {};
  const auto bounds = clip_bounds(v.model(), clip);
  const OpNode* add = v.producer(clip.inputs[0]);
  if (!bounds || bounds->first != 0.0f || !add || add->op_type != "Add") return {};
  std::string x;
  std::optional<float> b;
  for (const auto& in : add->inputs)
    if (!v.constant(in) && (b = v.scalar_operand(*add, in))) x = in;
  if (x.empty()) return {};  // not an Add of a scalar: no start of the pattern
  const char* kName = "HardSigmoid";
  std::string why;
  if (!v.sole_consumer(clip.inputs[0], &why)) return left_unfused(kName, clip, why);
  const float hi = bounds->second;
  std::vector<std::size_t> nodes = {*v.producer_index(clip.inputs[0]), anchor};
  float alpha = 0.0f, beta = 0.0f;
  const OpNode* scale = v.producer(x);
  if (near(hi, 1.0) && scale && scale->op_type == "Mul" && v.sole_consumer(x)) {
    std::string y;
    for (const auto& in : scale->inputs)
      if (!v.constant(in) && v.scalar_operand(*scale, in)) y = in;
    if (!y.empty()) {  // Clip(x * a + b, 0, 1)
      alpha = *v.scalar_operand(*scale, y);
      beta = *b;
      nodes.insert(nodes.begin(), *v.producer_index(x));
      return {hard_sigmoid(clip, y, alpha, beta, std::move(nodes)), std::nullopt};
    }
  }
  if (!(hi > 0.0f) || hi == std::numeric_limits<float>::max())
    return left_unfused(kName, clip, "the Clip has no finite positive upper bound");
  alpha = 1.0f / hi;
  beta = *b / hi;
  auto q = v.sole_consumer_index(clip.outputs[0]);
  if (!q) {
    v.sole_consumer(clip.outputs[0], &why);
    return left_unfused(kName, clip, why);
  }
  const OpNode& next = v.node(*q);
  nodes.push_back(*q);
  if (divides_by(v, next, clip.outputs[0], hi))
    return {hard_sigmoid(next, x, alpha, beta, std::move(nodes)), std::nullopt};
  const std::string y = PatternView::other_input(next, clip.outputs[0]);
  if (next.op_type != "Mul" || y.empty() || v.constant(y))
    return left_unfused(kName, clip, next.label() + " is not a Div by " + std::to_string(hi));
  auto d = v.sole_consumer_index(next.outputs[0]);
  if (!d || !divides_by(v, v.node(*d), next.outputs[0], hi))
    return left_unfused(
        y == x ? "HardSwish" : "gated Mul", clip,
        next.label() + " is not followed by a Div by " + std::to_string(hi) + " only");
  nodes.push_back(*d);
  const OpNode& last = v.node(*d);
  Rewrite r = gated_product(y, x, kName, alpha, beta, name_or_output(last), last.outputs[0]);
  r.removed = nodes;
  return {std::move(r), std::nullopt};
}

namespace {

// y * Gate(g) for a Gate op read only by that Mul.
MatchResult gate_product(const PatternView& v, std::size_t anchor, float alpha, float beta) {
  const OpNode& gate = v.node(anchor);
  const std::string& g = gate.outputs.at(0);
  std::string why;
  const auto k = v.sole_consumer_index(g);
  if (!k) {
    for (std::size_t c : v.consumers(g))
      if (v.node(c).op_type == "Mul") {
        v.sole_consumer(g, &why);
        return left_unfused(gate.op_type + " product", gate, why);
      }
    return {};
  }
  const OpNode& mul = v.node(*k);
  const std::string y = PatternView::other_input(mul, g);
  if (mul.op_type != "Mul" || y.empty() || y == g) return {};
  if (v.constant(y))
    return left_unfused(gate.op_type + " product", gate, "it multiplies a constant");
  Rewrite r = gated_product(y, gate.inputs.at(0), gate.op_type, alpha, beta, name_or_output(mul),
                            mul.outputs.at(0));
  r.removed = {anchor, *k};
  return {std::move(r), std::nullopt};
}

}  // namespace

MatchResult match_hard_sigmoid_product(const PatternView& v, std::size_t anchor) {
  const OpNode& n = v.node(anchor);
  if (n.op_type != "HardSigmoid") return {};
  return gate_product(v, anchor, n.attr_float("alpha", 0.2f), n.attr_float("beta", 0.5f));
}

MatchResult match_sigmoid_product(const PatternView& v, std::size_t anchor) {
  if (v.node(anchor).op_type != "Sigmoid") return {};
  return gate_product(v, anchor, 0.0f, 0.0f);
}

}  // namespace mpq
