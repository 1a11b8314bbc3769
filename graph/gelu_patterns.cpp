// GELU in its erf and tanh forms and Mish, as exporters write them out:
//   erf   0.5 * x * (1 + Erf(x / sqrt(2)))     (Div by sqrt 2 or Mul by 1/sqrt 2)
//   tanh  0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
//   Mish  x * Tanh(Softplus(x))                (Softplus written out: see match_softplus)
// The product of 0.5, x and (1 + ...) comes in every order: (x * a) * 0.5, (x * a) / 2,
// (0.5 * x) * a, (a * 0.5) * x.
#include <cmath>
#include <numbers>
#include <variant>

#include "canonical_patterns.hpp"

namespace mpq {
namespace {

struct ProductEnd {
  std::string output;
  std::vector<std::size_t> nodes;
};

bool halves(const PatternView& v, const OpNode& n, const std::string& t) {
  auto s = v.scalar_operand(n, t);
  return s && ((n.op_type == "Mul" && near(*s, 0.5)) || (n.op_type == "Div" && near(*s, 2.0)));
}

// The end of 0.5 * x * a, or why there is none.
std::variant<ProductEnd, std::string> half_product(const PatternView& v, const std::string& a,
                                                   const std::string& x) {
  std::string why;
  auto k1 = v.sole_consumer_index(a);
  if (!k1) {
    v.sole_consumer(a, &why);
    return why;
  }
  const OpNode& m1 = v.node(*k1);
  const std::string o = PatternView::other_input(m1, a);
  if (m1.op_type != "Mul" || o.empty()) return m1.label() + " is not a Mul";
  if (o == x) {  // (x * a) * 0.5 or (x * a) / 2
    auto k2 = v.sole_consumer_index(m1.outputs[0]);
    if (k2 && halves(v, v.node(*k2), m1.outputs[0]))
      return ProductEnd{v.node(*k2).outputs[0], {*k1, *k2}};
    return m1.label() + " is not followed by a Mul by 0.5 only";
  }
  if (auto s = v.scalar_operand(m1, a); s && near(*s, 0.5)) {  // (a * 0.5) * x
    auto k2 = v.sole_consumer_index(m1.outputs[0]);
    if (k2 && v.node(*k2).op_type == "Mul" &&
        PatternView::other_input(v.node(*k2), m1.outputs[0]) == x)
      return ProductEnd{v.node(*k2).outputs[0], {*k1, *k2}};
    return m1.label() + " is not followed by a Mul by '" + x + "' only";
  }
  const OpNode* h = v.producer(o);  // (0.5 * x) * a
  if (h && halves(v, *h, x) && h->op_type == "Mul" && v.sole_consumer(o))
    return ProductEnd{m1.outputs[0], {*v.producer_index(o), *k1}};
  return m1.label() + " multiplies '" + o + "', not '" + x + "' or 0.5";
}

std::string name_or_output(const OpNode& n) {
  return n.name.empty() ? n.outputs.at(0) : n.name;
}

// Gelu(x) replacing `nodes` and ending at the product's end; `why` when the product does not
// match.
MatchResult gelu_rewrite(const PatternView& v, const OpNode& anchor, std::vector<std::size_t> nodes,
                         const std::string& x, const std::string& approximate) {
  const char* pattern = approximate == "tanh" ? "GELU (tanh)" : "GELU";
  std::string why;
  for (std::size_t k : nodes)
    if (!v.sole_consumer(v.node(k).outputs.at(0), &why)) return left_unfused(pattern, anchor, why);
  auto plus = v.sole_consumer_index(anchor.outputs.at(0));
  auto one = plus ? v.scalar_operand(v.node(*plus), anchor.outputs[0]) : std::nullopt;
  if (!plus || v.node(*plus).op_type != "Add" || !one || !near(*one, 1.0))
    return left_unfused(pattern, anchor, anchor.label() + " is not followed by an Add of 1 only");
  auto end = half_product(v, v.node(*plus).outputs[0], x);
  if (auto* w = std::get_if<std::string>(&end)) return left_unfused(pattern, anchor, *w);
  const auto& pe = std::get<ProductEnd>(end);
  nodes.push_back(*v.producer_index(anchor.outputs[0]));
  nodes.push_back(*plus);
  nodes.insert(nodes.end(), pe.nodes.begin(), pe.nodes.end());
  Rewrite r;
  r.pattern = pattern;
  r.node = name_or_output(v.node(pe.nodes.back()));
  r.added.push_back(fused_node("Gelu", r.node, {x}, pe.output));
  if (approximate == "tanh") r.added[0].attrs["approximate"] = approximate;
  r.removed = std::move(nodes);
  return {std::move(r), std::nullopt};
}

// x * x * x in any association, or Pow(x, 3): x, or "" when `t` is not that.
std::string cube_of(const PatternView& v, const std::string& t, std::vector<std::size_t>& nodes) {
  const OpNode* p = v.producer(t);
  if (!p || p->inputs.size() != 2) return "";
  if (p->op_type == "Pow") {
    auto e = v.scalar(p->inputs[1]);
    if (!e || *e != 3.0f) return "";
    nodes.push_back(*v.producer_index(t));
    return p->inputs[0];
  }
  if (p->op_type != "Mul") return "";
  for (int side = 0; side < 2; ++side) {
    const std::string& x = p->inputs[static_cast<std::size_t>(side)];
    const std::string& sq = p->inputs[static_cast<std::size_t>(1 - side)];
    const OpNode* q = v.producer(sq);
    if (q && q->op_type == "Mul" && q->inputs.size() == 2 && q->inputs[0] == x &&
        q->inputs[1] == x) {
      nodes.push_back(*v.producer_index(t));
      nodes.push_back(*v.producer_index(sq));
      return x;
    }
  }
  return "";
}

}  // namespace

MatchResult match_gelu_erf(const PatternView& v, std::size_t anchor) {
  const OpNode& erf = v.node(anchor);
  if (erf.op_type != "Erf") return {};
  const OpNode* u = v.producer(erf.inputs.at(0));
  if (!u || u->inputs.size() != 2) return {};
  std::string x;
  for (const auto& in : u->inputs) {
    if (v.constant(in)) continue;
    auto s = v.scalar_operand(*u, in);
    if (s && ((u->op_type == "Div" && near(*s, std::numbers::sqrt2)) ||
              (u->op_type == "Mul" && near(*s, 1.0 / std::numbers::sqrt2))))
      x = in;
  }
  if (x.empty()) return {};
  return gelu_rewrite(v, erf, {*v.producer_index(erf.inputs[0])}, x, "none");
}

MatchResult match_tanh_patterns(const PatternView& v, std::size_t anchor) {
  const OpNode& tanh = v.node(anchor);
  if (tanh.op_type != "Tanh") return {};
  const OpNode* u = v.producer(tanh.inputs.at(0));
  if (!u) return {};
  std::string why;
  if (u->op_type == "Softplus") {  // Mish
    const std::string& x = u->inputs.at(0);
    if (!v.sole_consumer(tanh.inputs[0], &why)) return left_unfused("Mish", tanh, why);
    auto k = v.sole_consumer_index(tanh.outputs[0]);
    if (!k || v.node(*k).op_type != "Mul" ||
        PatternView::other_input(v.node(*k), tanh.outputs[0]) != x)
      return left_unfused("Mish", tanh, "the Tanh is not multiplied by '" + x + "' only");
    Rewrite r;
    r.pattern = "Mish";
    r.node = name_or_output(v.node(*k));
    r.added.push_back(fused_node("Mish", r.node, {x}, v.node(*k).outputs[0]));
    r.removed = {*v.producer_index(tanh.inputs[0]), anchor, *k};
    return {std::move(r), std::nullopt};
  }
  // GELU, tanh form: Tanh(c * (x + 0.044715 * x^3)).
  std::string inner;
  for (const auto& in : u->inputs)
    if (u->op_type == "Mul" && !v.constant(in))
      if (auto s = v.scalar_operand(*u, in); s && near(*s, std::sqrt(2.0 / std::numbers::pi)))
        inner = in;
  if (inner.empty()) return {};
  const OpNode* add = v.producer(inner);
  if (!add || add->op_type != "Add" || add->inputs.size() != 2)
    return left_unfused("GELU (tanh)", tanh, "no Add of x and 0.044715 x^3");
  for (int side = 0; side < 2; ++side) {
    const std::string& x = add->inputs[static_cast<std::size_t>(side)];
    const std::string& w = add->inputs[static_cast<std::size_t>(1 - side)];
    const OpNode* scaled = v.producer(w);
    if (!scaled || scaled->op_type != "Mul") continue;
    std::vector<std::size_t> nodes = {*v.producer_index(tanh.inputs[0]), *v.producer_index(inner),
                                      *v.producer_index(w)};
    for (const auto& p3 : scaled->inputs) {
      auto s = v.scalar_operand(*scaled, p3);
      if (!s || !near(*s, 0.044715)) continue;
      std::vector<std::size_t> all = nodes;
      if (cube_of(v, p3, all) == x) return gelu_rewrite(v, tanh, all, x, "tanh");
    }
  }
  return left_unfused("GELU (tanh)", tanh, "no Add of x and 0.044715 x^3");
}

}  // namespace mpq
