#pragma once
// Helpers shared by the backward rules (OpSpec::backward) in sim/ops/*.cpp.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <cstdint>
#include <span>
#include <vector>

#include "graph/tensor.hpp"
#include "sim/op_registry.hpp"

namespace mpq::ops {

// Float input k of the op.
const Tensor& grad_input(const GradContext& c, std::size_t k);
// dL/d(output k).
const Tensor& out_grad(const GradContext& c, std::size_t k = 0);
// Where dL/d(input k) goes, or nullptr when it is not wanted.
inline Tensor* wanted(const GradContext& c, std::size_t k) {
  return k < c.in_grads.size() ? c.in_grads[k] : nullptr;
}
// Makes g a zero float tensor of shape s.
Tensor& zero_grad(Tensor& g, const Shape& s);
// out = g (shape `full`) summed over the axes that numpy broadcasting stretched `target` along.
void unbroadcast(const float* g, const Shape& full, const Shape& target, Tensor& out);

// For every element of `full` (row-major), the offset of the element of a tensor of shape `s`
// that numpy broadcasting maps to it.
std::vector<std::int64_t> broadcast_index(const Shape& full, const Shape& s);

// dx = dy * f(x, y) elementwise for a one-input op (f gets x[e] and y[e]).
template <class F>
void unary_grad(const GradContext& c, F f) {
  Tensor* dx = wanted(c, 0);
  if (!dx) return;
  const Tensor& x = grad_input(c, 0);
  const Tensor& y = *c.outputs[0];
  const Tensor& dy = out_grad(c);
  dx->dtype = DType::Float32;
  dx->allocate(x.shape);
  // Elements on their own: the split over threads changes nothing.
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, x.size(), 1 << 14),
                    [&](const tbb::blocked_range<std::int64_t>& r) {
                      for (std::int64_t e = r.begin(); e != r.end(); ++e)
                        dx->f[e] = dy.f[e] * f(x.f[e], y.f[e]);
                    });
}

// The VJP of an op that only copies elements of its float inputs (Transpose, Slice, Concat,
// Split, Gather's data, Expand, Tile, Pad): runs the op's own kernel with element numbers (1, 2,
// ... as floats, exact below 2^24) in place of the float inputs its traits do not mark inert,
// then adds each output element's gradient to the element it is a copy of (number 0: none, a
// padding value).
void copy_grad(const GradContext& c);
// dx = dy with x's shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout at inference).
void reshape_grad(const GradContext& c);

// A broadcasting elementwise op y = f(in_0, in_1, ...): for each wanted input k, dL/d(in_k) =
// dy * partial(k, values, y) summed over the axes input k was broadcast along. `shapes[k]`:
// input k's shape as broadcast (a legacy broadcast may differ from its own shape).
template <class Partial>
void broadcast_grad(const GradContext& c, const std::vector<Shape>& shapes, Partial partial) {
  const Tensor& y = *c.outputs[0];
  const Tensor& dy = out_grad(c);
  std::vector<std::vector<std::int64_t>> idx;
  for (const Shape& s : shapes) idx.push_back(broadcast_index(y.shape, s));
  std::vector<float> vals(shapes.size());
  FloatBuffer tmp(static_cast<std::size_t>(y.size()));
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    Tensor* dx = wanted(c, k);
    if (!dx) continue;
    for (std::size_t e = 0; e < tmp.size(); ++e) {
      for (std::size_t j = 0; j < shapes.size(); ++j)
        vals[j] = c.inputs[j]->f[static_cast<std::size_t>(idx[j][e])];
      tmp[e] = dy.f[e] * partial(k, vals, y.f[e]);
    }
    unbroadcast(tmp.data(), y.shape, shapes[k], *dx);
    dx->shape = c.inputs[k]->shape;
  }
}

}  // namespace mpq::ops
