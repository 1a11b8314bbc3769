// Pad and Tile (registered by register_movement_ops): both map every output index along an
// axis to one input index, so they run on the separable index_map_copy.
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

enum class PadMode { Constant, Reflect, Edge };

std::optional<PadMode> pad_mode(const std::string& s) {
  if (s == "constant") return PadMode::Constant;
  if (s == "reflect") return PadMode::Reflect;
  if (s == "edge") return PadMode::Edge;
  return std::nullopt;
}

std::optional<std::string> validate_pad(const OpNode& node, std::int64_t) {
  const std::string mode = node.attr_string("mode", "constant");
  if (!pad_mode(mode))
    return "Pad mode \"" + mode + "\" is not supported (constant, reflect, edge are)";
  return std::nullopt;
}

// Source index (relative to the cropped input of size n) for padded position j, which may lie
// outside [0, n); nullopt selects the constant value.
std::optional<std::int64_t> pad_source(std::int64_t j, std::int64_t n, PadMode mode) {
  if (j >= 0 && j < n) return j;
  switch (mode) {
    case PadMode::Constant:
      return std::nullopt;
    case PadMode::Edge:
      return std::clamp<std::int64_t>(j, 0, n - 1);
    case PadMode::Reflect: {
      if (n == 1) return 0;
      // Reflection without repeating the edge is periodic with period 2(n-1).
      const std::int64_t period = 2 * (n - 1);
      std::int64_t k = j % period;
      if (k < 0) k += period;
      return k < n ? k : period - k;
    }
  }
  return std::nullopt;
}

void run_pad(const OpContext& ctx, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "data");
  const std::int64_t r = x.rank();
  const PadMode mode =
      pad_mode(ctx.node.attr_string("mode", "constant")).value_or(PadMode::Constant);
  // Pads and the constant: attributes before opset 11, inputs from 11 (axes input from 18).
  std::vector<std::int64_t> pads;
  double value = 0.0;
  std::vector<std::int64_t> axes;
  if (ctx.opset < 11) {
    pads = ctx.node.attr_ints("pads");
    value = ctx.node.attr_float("value", 0.0f);
  } else {
    pads = require(in, 1, "pads").to_ints();
    if (const Tensor* v = optional_input(in, 2); v && v->size() > 0) value = v->at_f(0);
    if (const Tensor* a = optional_input(in, 3)) axes = ops::normalize_axes(a->to_ints(), r);
  }
  if (axes.empty())
    for (std::int64_t k = 0; k < r; ++k) axes.push_back(k);
  const auto na = axes.size();
  if (pads.size() != 2 * na)
    throw OpError("pads has " + std::to_string(pads.size()) + " values, expected " +
                  std::to_string(2 * na));
  std::vector<std::int64_t> begin(static_cast<std::size_t>(r), 0),
      end(static_cast<std::size_t>(r), 0);
  for (std::size_t k = 0; k < na; ++k) {
    begin[static_cast<std::size_t>(axes[k])] = pads[k];
    end[static_cast<std::size_t>(axes[k])] = pads[k + na];
  }

  const std::vector<std::int64_t> ist = strides_of(x.shape);
  Shape os(static_cast<std::size_t>(r));
  std::vector<std::vector<std::int64_t>> tabs(static_cast<std::size_t>(r));
  for (std::size_t a = 0; a < os.size(); ++a) {
    const std::int64_t dim = x.shape[a];
    os[a] = dim + begin[a] + end[a];
    if (os[a] < 0) throw OpError("negative pads crop more than axis size " + std::to_string(dim));
    // Negative pads crop first; positive pads then extend the cropped range.
    const std::int64_t lo = std::max<std::int64_t>(0, -begin[a]);
    const std::int64_t n = dim - lo - std::max<std::int64_t>(0, -end[a]);
    const std::int64_t pre = std::max<std::int64_t>(0, begin[a]);
    if (n <= 0 && os[a] > 0 && mode != PadMode::Constant)
      throw OpError("cannot pad an empty axis in edge or reflect mode");
    tabs[a].resize(static_cast<std::size_t>(os[a]));
    for (std::int64_t o = 0; o < os[a]; ++o) {
      const auto s = pad_source(o - pre, n, mode);
      tabs[a][static_cast<std::size_t>(o)] = s ? (lo + *s) * ist[a] : ops::kFill;
    }
  }
  ops::index_map_tensor(x, out[0], os, tabs, value);
}

void run_tile(const OpContext&, std::span<const Tensor* const> in, std::span<Tensor> out) {
  const Tensor& x = require(in, 0, "input");
  const std::vector<std::int64_t> reps = require(in, 1, "repeats").to_ints();
  if (static_cast<std::int64_t>(reps.size()) != x.rank())
    throw OpError("repeats must have one entry per input dim");
  const std::vector<std::int64_t> ist = strides_of(x.shape);
  Shape os(x.shape.size());
  std::vector<std::vector<std::int64_t>> tabs(os.size());
  for (std::size_t a = 0; a < os.size(); ++a) {
    if (reps[a] < 0) throw OpError("negative repeat");
    os[a] = x.shape[a] * reps[a];
    tabs[a].resize(static_cast<std::size_t>(os[a]));
    for (std::int64_t o = 0; o < os[a]; ++o)
      tabs[a][static_cast<std::size_t>(o)] = (o % x.shape[a]) * ist[a];
  }
  ops::index_map_tensor(x, out[0], os, tabs);
}

// Traits. Tile takes its repeats in input 1.
constexpr OpTraits kPadTraits{OpClass::DataMovement, PlacementRole::DataMovement};
constexpr OpTraits kTileTraits{
    OpClass::DataMovement, PlacementRole::DataMovement, {}, {.shape_inputs = 1 << 1}};

}  // namespace

void register_pad_tile_ops(OpTable& t) {
  t.push_back({"Pad", kPadTraits.with_gradient({.inert_inputs = 0b1110}), run_pad, validate_pad});
  t.back().backward = ops::copy_grad;
  t.push_back({"Tile", kTileTraits.with_gradient({.inert_inputs = 0b10}), run_tile, nullptr});
  t.back().backward = ops::copy_grad;
}

}  // namespace mpq
