#include "grad_util.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace mpq::ops {

const Tensor& grad_input(const GradContext& c, std::size_t k) {
  const Tensor& x = require(c.inputs, k, "input");
  if (!x.is_float()) throw OpError("input " + std::to_string(k) + " is not float");
  return x;
}

const Tensor& out_grad(const GradContext& c, std::size_t k) {
  if (k >= c.out_grads.size() || !c.out_grads[k])
    throw OpError("no gradient for output " + std::to_string(k));
  return *c.out_grads[k];
}

Tensor& zero_grad(Tensor& g, const Shape& s) {
  g.dtype = DType::Float32;
  g.allocate(s);
  std::fill(g.f.begin(), g.f.end(), 0.0f);
  return g;
}

std::vector<std::int64_t> broadcast_index(const Shape& full, const Shape& s) {
  const std::size_t rank = full.size();
  std::vector<std::int64_t> stride(rank, 0);
  std::int64_t st = 1;
  for (std::size_t d = s.size(); d-- > 0;) {
    const std::size_t fd = d + rank - s.size();
    stride[fd] = s[d] == 1 ? 0 : st;
    st *= s[d];
  }
  const std::int64_t n = numel(full);
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  std::vector<std::int64_t> idx(rank, 0);
  std::int64_t off = 0;
  for (std::int64_t e = 0; e < n; ++e) {
    out[static_cast<std::size_t>(e)] = off;
    for (std::size_t d = rank; d-- > 0;) {
      off += stride[d];
      if (++idx[d] < full[d]) break;
      off -= stride[d] * full[d];
      idx[d] = 0;
    }
  }
  return out;
}

void unbroadcast(const float* g, const Shape& full, const Shape& target, Tensor& out) {
  zero_grad(out, target);
  const std::size_t rank = full.size();
  if (target.size() > rank)
    throw OpError("cannot reduce " + shape_str(full) + " to " + shape_str(target));
  // Strides of `target` right-aligned into `full`'s rank, 0 along stretched axes.
  std::vector<std::int64_t> tstride(rank, 0);
  std::int64_t s = 1;
  for (std::size_t d = target.size(); d-- > 0;) {
    const std::size_t fd = d + rank - target.size();
    tstride[fd] = target[d] == 1 && full[fd] != 1 ? 0 : s;
    s *= target[d];
  }
  const std::int64_t n = numel(full);
  if (n == out.size()) {
    std::copy(g, g + n, out.f.begin());
    return;
  }
  std::vector<std::int64_t> idx(rank, 0);
  std::int64_t off = 0;
  for (std::int64_t e = 0; e < n; ++e) {
    out.f[static_cast<std::size_t>(off)] += g[e];
    for (std::size_t d = rank; d-- > 0;) {
      off += tstride[d];
      if (++idx[d] < full[d]) break;
      off -= tstride[d] * full[d];
      idx[d] = 0;
    }
  }
}

void copy_grad(const GradContext& c) {
  const OpSpec* spec = find_op(c.node.op_type);
  if (!spec || !spec->run) throw OpError("no kernel for " + c.node.op_type);
  const std::uint8_t inert = spec->traits.gradient.inert_inputs;
  std::vector<Tensor> numbered(c.inputs.size());
  std::vector<const Tensor*> ins(c.inputs.begin(), c.inputs.end());
  std::vector<std::int64_t> first(c.inputs.size() + 1, 0);  // first number of each input
  std::int64_t next = 1;
  for (std::size_t k = 0; k < c.inputs.size(); ++k) {
    first[k] = next;
    const Tensor* t = c.inputs[k];
    if (!t || !t->is_float() || (k < 8 && (inert >> k) & 1)) continue;
    numbered[k] = *t;
    for (float& v : numbered[k].f) v = static_cast<float>(next++);
    ins[k] = &numbered[k];
  }
  if (next >= (std::int64_t{1} << 24))
    throw OpError("too many elements (" + std::to_string(next - 1) + ") to number exactly");
  Tensor zero;
  if (c.node.op_type == "Pad") {
    if (c.opset < 11 && c.node.attr_float("value", 0.0f) != 0.0f)
      throw OpError("gradient of a Pad with a nonzero 'value' attribute is not implemented");
    if (ins.size() > 2 && ins[2]) {
      zero = *ins[2];
      std::fill(zero.f.begin(), zero.f.end(), 0.0f);
      ins[2] = &zero;
    }
  }
  std::vector<Tensor> outs(c.outputs.size());
  spec->run(OpContext{c.node, c.opset}, ins, outs);
  for (std::size_t k = 0; k < c.in_grads.size(); ++k)
    if (c.in_grads[k]) zero_grad(*c.in_grads[k], c.inputs[k]->shape);
  for (std::size_t o = 0; o < outs.size(); ++o) {
    if (o >= c.out_grads.size() || !c.out_grads[o] || !outs[o].is_float()) continue;
    const Tensor& dy = *c.out_grads[o];
    for (std::size_t e = 0; e < outs[o].f.size(); ++e) {
      const auto id = static_cast<std::int64_t>(outs[o].f[e]);
      if (id <= 0) continue;
      const auto k = static_cast<std::size_t>(
          std::upper_bound(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(ins.size()),
                           id) -
          first.begin() - 1);
      if (Tensor* dx = c.in_grads[k]) dx->f[static_cast<std::size_t>(id - first[k])] += dy.f[e];
    }
  }
}

void reshape_grad(const GradContext& c) {
  Tensor* dx = wanted(c, 0);
  if (!dx) return;
  *dx = out_grad(c);
  dx->shape = c.inputs[0]->shape;
}

}  // namespace mpq::ops
