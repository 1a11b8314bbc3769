// Shape-only ops: they change how data is viewed (or report shapes) but not its values.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/op_registry.hpp"
#include "sim/ops/grad_util.hpp"
#include "sim/ops/index_copy.hpp"

namespace mpq {
namespace {

using ops::copy_reshaped;

void run_shape(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  const std::int64_t r = x.rank();
  // Opset 15 start/end slice the shape like Python indexing, clamped to [0, rank].
  const auto clamp = [r](std::int64_t v) {
    return std::clamp<std::int64_t>(v < 0 ? v + r : v, 0, r);
  };
  const std::int64_t start = clamp(ctx.node.attr_int("start", 0));
  const std::int64_t end = clamp(ctx.node.attr_int("end", r));
  out[0].dtype = DType::Int64;
  out[0].allocate({std::max<std::int64_t>(end - start, 0)});
  for (std::int64_t k = start; k < end; ++k)
    out[0].i[static_cast<std::size_t>(k - start)] = x.shape[static_cast<std::size_t>(k)];
}

void run_size(const OpContext&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  out[0].dtype = DType::Int64;
  out[0].allocate({});
  out[0].i[0] = x.size();
}

void run_reshape(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  // Reshape-1 took the target as an attribute; from opset 5 it is an input.
  const std::vector<std::int64_t> target = ctx.opset < 5 && !optional_input(in, 1)
                                               ? ctx.node.attr_ints("shape")
                                               : require(in, 1, "shape").to_ints();
  const bool allowzero = ctx.node.attr_int("allowzero", 0) != 0;
  Shape s(target.begin(), target.end());
  std::int64_t infer = -1, known = 1;
  for (std::size_t k = 0; k < s.size(); ++k) {
    if (s[k] == 0 && !allowzero) {
      if (k >= x.shape.size())
        throw OpError("shape entry 0 at index " + std::to_string(k) + " has no input dim to copy");
      s[k] = x.shape[k];
    }
    if (s[k] == -1) {
      if (infer >= 0) throw OpError("shape has more than one -1 entry");
      infer = static_cast<std::int64_t>(k);
    } else if (s[k] < 0) {
      throw OpError("invalid shape entry " + std::to_string(s[k]));
    } else {
      known *= s[k];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.size() % known != 0)
      throw OpError("cannot infer -1 when reshaping " + shape_str(x.shape) + " to " +
                    shape_str(target));
    s[static_cast<std::size_t>(infer)] = x.size() / known;
  }
  copy_reshaped(x, out[0], std::move(s), ctx.reusable_input);
}

void run_flatten(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "input");
  const std::int64_t r = x.rank();
  std::int64_t axis = ctx.node.attr_int("axis", 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r)
    throw OpError("axis " + std::to_string(ctx.node.attr_int("axis", 1)) +
                  " is out of range for rank " + std::to_string(r));
  const auto mid = x.shape.begin() + axis;
  const std::int64_t outer = numel(std::span<const std::int64_t>(x.shape.begin(), mid));
  const std::int64_t inner = numel(std::span<const std::int64_t>(mid, x.shape.end()));
  copy_reshaped(x, out[0], {outer, inner}, ctx.reusable_input);
}

// Squeeze/Unsqueeze axes: an attribute before opset 13, an optional input from 13.
std::optional<std::vector<std::int64_t>> axes_of(const OpContext& ctx,
                                                 std::span<const Tensor* const> in) {
  if (const Tensor* a = optional_input(in, 1)) return a->to_ints();
  if (ctx.node.has_attr("axes")) return ctx.node.attr_ints("axes");
  return std::nullopt;
}

void run_squeeze(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  const std::int64_t r = x.rank();
  std::vector<bool> drop(static_cast<std::size_t>(r), false);
  // An empty axes list counts as absent (as in onnxruntime): squeeze every size-1 dim.
  if (const auto axes = axes_of(ctx, in); axes && !axes->empty()) {
    for (std::int64_t a : ops::normalize_axes(*axes, r)) {
      if (x.shape[static_cast<std::size_t>(a)] != 1)
        throw OpError("cannot squeeze axis " + std::to_string(a) + " of size " +
                      std::to_string(x.shape[static_cast<std::size_t>(a)]) + " in " +
                      shape_str(x.shape));
      drop[static_cast<std::size_t>(a)] = true;
    }
  } else {
    for (std::size_t k = 0; k < drop.size(); ++k) drop[k] = x.shape[k] == 1;
  }
  Shape s;
  for (std::size_t k = 0; k < drop.size(); ++k)
    if (!drop[k]) s.push_back(x.shape[k]);
  copy_reshaped(x, out[0], std::move(s), ctx.reusable_input);
}

void run_unsqueeze(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  const auto axes = axes_of(ctx, in);
  if (!axes) throw OpError("missing axes");
  const std::int64_t r = x.rank() + static_cast<std::int64_t>(axes->size());
  std::vector<bool> inserted(static_cast<std::size_t>(r), false);
  for (std::int64_t a : ops::normalize_axes(*axes, r)) inserted[static_cast<std::size_t>(a)] = true;
  Shape s;
  auto src = x.shape.begin();
  for (std::size_t k = 0; k < inserted.size(); ++k) s.push_back(inserted[k] ? 1 : *src++);
  copy_reshaped(x, out[0], std::move(s), ctx.reusable_input);
}

void run_expand(const OpContext&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "input");
  const std::vector<std::int64_t> target = require(in, 1, "shape").to_ints();
  // Bidirectional broadcast of the input shape and the target.
  Shape os(std::max(x.shape.size(), target.size()), 1);
  for (std::size_t k = 0; k < os.size(); ++k) {
    const std::size_t from_end = os.size() - k;
    const std::int64_t a = from_end <= x.shape.size() ? x.shape[x.shape.size() - from_end] : 1;
    const std::int64_t b = from_end <= target.size() ? target[target.size() - from_end] : 1;
    if (a != b && a != 1 && b != 1)
      throw OpError("cannot expand " + shape_str(x.shape) + " to " + shape_str(target));
    os[k] = a == 1 ? b : a;
  }
  // Input dims align to the right; broadcast dims (size 1 or missing) always read index 0.
  const std::vector<std::int64_t> st = strides_of(x.shape);
  const std::size_t off = os.size() - x.shape.size();
  std::vector<std::vector<std::int64_t>> tabs(os.size());
  for (std::size_t k = 0; k < os.size(); ++k) {
    tabs[k].assign(static_cast<std::size_t>(os[k]), 0);
    if (k < off || x.shape[k - off] == 1) continue;
    for (std::int64_t o = 0; o < os[k]; ++o) tabs[k][static_cast<std::size_t>(o)] = o * st[k - off];
  }
  ops::index_map_tensor(x, out[0], os, tabs);
}

void run_constant_of_shape(const OpContext& ctx, std::span<const Tensor* const> in,
                           std::span<Tensor> out) {
  const std::vector<std::int64_t> dims = require(in, 0, "input").to_ints();
  for (std::int64_t d : dims)
    if (d < 0) throw OpError("negative dimension " + std::to_string(d));
  const Tensor* value = ctx.node.attr_tensor("value");
  if (value && value->size() != 1) throw OpError("value must hold exactly one element");
  out[0].dtype = value ? value->dtype : DType::Float32;
  out[0].allocate(Shape(dims.begin(), dims.end()));
  if (!value) return;
  if (value->is_float())
    std::fill(out[0].f.begin(), out[0].f.end(), value->f[0]);
  else
    std::fill(out[0].i.begin(), out[0].i.end(), value->i[0]);
}

void run_identity(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "input");
  copy_reshaped(x, out[0], x.shape, ctx.reusable_input);
}

// Inference-mode Dropout: output = input, mask all true.
void run_dropout(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  // Opset 12+: training_mode (input 2) makes the output random unless ratio is 0.
  if (const Tensor* training = optional_input(in, 2);
      training && training->size() > 0 && training->at_i(0) != 0) {
    const Tensor* ratio = optional_input(in, 1);
    const double rv = ratio && ratio->size() > 0 ? ratio->at_f(0) : 0.5;
    if (rv != 0.0) throw OpError("training_mode=true (random dropout) is not supported");
  }
  copy_reshaped(x, out[0], x.shape);
  if (out.size() > 1) {
    // The mask is Bool from opset 10; before that it had the input's type.
    Tensor& mask = out[1];
    mask.dtype = ctx.opset >= 10 ? DType::Bool : x.dtype;
    mask.allocate(x.shape);
    if (mask.is_float())
      std::fill(mask.f.begin(), mask.f.end(), 1.0f);
    else
      std::fill(mask.i.begin(), mask.i.end(), 1);
  }
}

// Traits. Shape and Size of an image tensor give the batch size; Reshape and Expand take a
// shape in input 1, ConstantOfShape in input 0; Squeeze, Unsqueeze and Identity also compute
// shapes.
constexpr OpTraits kMeasures{OpClass::DataMovement, PlacementRole::Compute, {}, {.measures = true}};
constexpr OpTraits kShapedBy1{
    OpClass::DataMovement, PlacementRole::DataMovement, {}, {.shape_inputs = 1 << 1}};
constexpr OpTraits kMovement{OpClass::DataMovement, PlacementRole::DataMovement};
constexpr OpTraits kMovementArithmetic{
    OpClass::DataMovement, PlacementRole::DataMovement, {}, {.arithmetic = true}};
constexpr OpTraits kConstantOfShapeTraits{
    OpClass::DataMovement, PlacementRole::Compute, {}, {.shape_inputs = 1 << 0}};

}  // namespace

void register_shape_ops(OpTable& t) {
  t.push_back({"Shape", kMeasures.with_gradient({.none = true}), run_shape, nullptr});
  t.push_back({"Size", kMeasures.with_gradient({.none = true}), run_size, nullptr});
  t.push_back({"Reshape", kShapedBy1.with_gradient({.inert_inputs = 0b10}), run_reshape, nullptr,
               false, true});
  t.back().backward = ops::reshape_grad;
  t.push_back({"Flatten", kMovement, run_flatten, nullptr, false, true});
  t.back().backward = ops::reshape_grad;
  t.push_back({"Squeeze", kMovementArithmetic.with_gradient({.inert_inputs = 0b10}), run_squeeze,
               nullptr, false, true});
  t.back().backward = ops::reshape_grad;
  t.push_back({"Unsqueeze", kMovementArithmetic.with_gradient({.inert_inputs = 0b10}),
               run_unsqueeze, nullptr, false, true});
  t.back().backward = ops::reshape_grad;
  t.push_back({"Expand", kShapedBy1.with_gradient({.inert_inputs = 0b10}), run_expand, nullptr});
  t.back().backward = ops::copy_grad;
  t.push_back({"ConstantOfShape", kConstantOfShapeTraits.with_gradient({.none = true}),
               run_constant_of_shape, nullptr});
  t.push_back({"Identity", kMovementArithmetic, run_identity, nullptr, false, true});
  t.back().backward = ops::reshape_grad;
  t.push_back({"Dropout", kMovement.with_gradient({.inert_inputs = 0b110}), run_dropout, nullptr});
  t.back().backward = ops::reshape_grad;
}

}  // namespace mpq
