#include "fused_op_expansion.hpp"

#include <cmath>
#include <numbers>

#include "graph/canonicalize.hpp"

namespace mpq {
namespace {

// Appends nodes one by one; each node's output is a fresh tensor unless it is the last.
class Chain {
 public:
  Chain(const OpNode& n, const std::function<std::string(const std::string&)>& fresh,
        std::map<std::string, Tensor>& constants, std::int64_t opset)
      : n_(n), fresh_(fresh), constants_(constants), opset_(opset) {}

  std::string constant(float v) { return add_constant(Tensor::scalar_f(v), "const"); }
  std::string add_constant(Tensor t, const std::string& what) {
    const std::string name = fresh_(base() + "_" + what);
    constants_[name] = std::move(t);
    return name;
  }
  // The node's output: a fresh name, or the fused op's output when `last`.
  OpNode& op(const std::string& type, std::vector<std::string> inputs, bool last = false) {
    OpNode o;
    o.op_type = type;
    o.name = fresh_(base() + "/" + type);
    o.inputs = std::move(inputs);
    o.outputs = {last ? n_.outputs.at(0) : fresh_(base() + "/" + type + "_output")};
    nodes_.push_back(std::move(o));
    return nodes_.back();
  }
  // ReduceMean over the axes from `axis` on, keepdims (axes an attribute before opset 18).
  std::string mean(const std::string& x, std::int64_t axis, std::int64_t rank) {
    std::vector<std::int64_t> axes;
    for (std::int64_t a = axis < 0 ? axis + rank : axis; a < rank; ++a) axes.push_back(a);
    if (opset_ >= 18)
      return out(op("ReduceMean", {x, add_constant(Tensor::from_ints(axes), "axes")}));
    OpNode& r = op("ReduceMean", {x});
    r.attrs["axes"] = axes;
    return out(r);
  }
  static std::string out(const OpNode& o) { return o.outputs[0]; }
  std::vector<OpNode> take() { return std::move(nodes_); }

 private:
  std::string base() const { return n_.name.empty() ? n_.outputs.at(0) : n_.name; }
  const OpNode& n_;
  const std::function<std::string(const std::string&)>& fresh_;
  std::map<std::string, Tensor>& constants_;
  std::int64_t opset_;
  std::vector<OpNode> nodes_;
};

// x / sqrt(mean(x^2) + eps) over the axes from `axis`, times the scale input when present,
// plus the bias input when present; ends at the fused op's output.
void normalize(Chain& c, const OpNode& n, const std::string& x, std::int64_t rank) {
  const std::int64_t axis = n.attr_int("axis", -1);
  const std::string var = c.mean(Chain::out(c.op("Mul", {x, x})), axis, rank);
  const std::string root = Chain::out(
      c.op("Sqrt", {Chain::out(c.op("Add", {var, c.constant(n.attr_float("epsilon", 1e-5f))}))}));
  const bool scale = n.has_input(1), bias = n.has_input(2);
  std::string y = Chain::out(c.op("Div", {x, root}, !scale && !bias));
  if (scale) y = Chain::out(c.op("Mul", {y, n.inputs[1]}, !bias));
  if (bias) c.op("Add", {y, n.inputs[2]}, true);
}

void gelu(Chain& c, const OpNode& n) {
  const std::string& x = n.inputs.at(0);
  std::string e;
  if (n.attr_string("approximate", "none") == "tanh") {
    const std::string cube = Chain::out(c.op("Mul", {Chain::out(c.op("Mul", {x, x})), x}));
    const std::string inner =
        Chain::out(c.op("Add", {x, Chain::out(c.op("Mul", {cube, c.constant(0.044715f)}))}));
    const auto k = static_cast<float>(std::sqrt(2.0 / std::numbers::pi));
    e = Chain::out(c.op("Tanh", {Chain::out(c.op("Mul", {inner, c.constant(k)}))}));
  } else {
    e = Chain::out(
        c.op("Erf", {Chain::out(c.op("Div", {x, c.constant(std::numbers::sqrt2_v<float>)}))}));
  }
  const std::string a = Chain::out(c.op("Add", {e, c.constant(1.0f)}));
  c.op("Mul", {Chain::out(c.op("Mul", {x, a})), c.constant(0.5f)}, true);
}

}  // namespace

std::vector<OpNode> standard_ops(const OpNode& n, std::int64_t opset, std::int64_t rank,
                                 const std::function<std::string(const std::string&)>& fresh,
                                 std::map<std::string, Tensor>& constants) {
  Chain c(n, fresh, constants, opset);
  const std::string& op = n.op_type;
  if (op == kSiLUOp) {
    c.op("Mul", {n.inputs.at(0), Chain::out(c.op("Sigmoid", {n.inputs.at(0)}))}, true);
  } else if (op == kGateMulOp) {
    const bool hard = n.attr_string("gate", "Sigmoid") == "HardSigmoid";
    OpNode& g = c.op(hard ? "HardSigmoid" : "Sigmoid", {n.inputs.at(1)});
    if (hard)
      g.attrs = {{"alpha", n.attr_float("alpha", 0.2f)}, {"beta", n.attr_float("beta", 0.5f)}};
    c.op("Mul", {n.inputs.at(0), Chain::out(g)}, true);
  } else if (op == kRMSNormOp) {
    normalize(c, n, n.inputs.at(0), rank);
  } else if (op == "HardSwish" && opset < 14) {
    OpNode& g = c.op("HardSigmoid", {n.inputs.at(0)});
    g.attrs = {{"alpha", 1.0f / 6.0f}, {"beta", 0.5f}};
    c.op("Mul", {n.inputs.at(0), Chain::out(g)}, true);
  } else if (op == "LayerNormalization" && opset < 17) {
    const std::string& x = n.inputs.at(0);
    const std::string d = Chain::out(c.op("Sub", {x, c.mean(x, n.attr_int("axis", -1), rank)}));
    normalize(c, n, d, rank);
  } else if (op == "Gelu" && opset < 20) {
    gelu(c, n);
  } else {
    return {n};
  }
  return c.take();
}

}  // namespace mpq
