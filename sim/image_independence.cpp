// A value is Const (no input reaches it), PerImage (axis 0 is the batch; row b depends only
// on row b of the inputs) or BatchSize (small ints from Shape/Size of a per-image value: the
// batch size itself). Most ops that would mix images change a per-image shape (a Transpose or
// Reshape moving axis 0, a reduction or Concat over it, a Flatten from axis 0, a MatMul of two
// rank-2 per-image values), which the shapes at two batch sizes expose. The rest keep the shape
// and say in their traits when their attributes make them mix (OpTraitFunctions::mixes_images).
#include "image_independence.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "engine.hpp"
#include "prepare.hpp"

namespace mpq {
namespace {

enum class Rows { Const, PerImage, BatchSize };

constexpr std::int64_t kProbe[2] = {2, 3};

struct Probe {
  std::map<std::string, Shape> shapes[2];
};

Result<Probe> probe_shapes(const Network& net) {
  Probe p;
  auto engine = Engine::create(net);
  if (!engine) return engine.error();
  engine->set_fusion(false);  // every value written, with its own shape
  for (int k = 0; k < 2; ++k) {
    auto inputs = make_example_inputs(net.model, kProbe[k]);
    if (!inputs) return inputs.error();
    for (std::size_t i = 0; i < inputs->size(); ++i) {
      const Tensor& t = (*inputs)[i];
      if (t.shape.empty() || t.shape[0] != kProbe[k])
        return make_error("input '" + net.model.inputs[i].name +
                          "' has no batch dimension to split (its axis 0 is fixed)");
    }
    if (auto out = engine->run(*inputs); !out)
      return make_error("the model does not run at batch " + std::to_string(kProbe[k]) + ": " +
                        out.error().message);
    p.shapes[k] = engine->value_shapes();
  }
  return p;
}

}  // namespace

Status check_images_independent(const Network& net) {
  auto probe = probe_shapes(net);
  if (!probe) return probe.error();
  std::map<std::string, Rows> rows;
  for (const auto& in : net.model.inputs) rows[in.name] = Rows::PerImage;
  auto rows_of = [&](const std::string& t) {
    auto it = rows.find(t);
    return it == rows.end() ? Rows::Const : it->second;  // initializers, folded constants
  };
  // A per-image value: the batch in axis 0 at both probes, every other dim the same at both.
  auto per_image_shape = [&](const std::string& t) {
    const Shape& a = probe->shapes[0].at(t);
    const Shape& b = probe->shapes[1].at(t);
    return !a.empty() && a.size() == b.size() && a[0] == kProbe[0] && b[0] == kProbe[1] &&
           std::equal(a.begin() + 1, a.end(), b.begin() + 1);
  };

  for (std::size_t idx : net.order) {
    const OpNode& n = net.node(idx);
    bool any_image = false, any_size = false;
    for (std::size_t k = 0; k < n.inputs.size(); ++k) {
      if (!n.has_input(k)) continue;
      const Rows r = rows_of(n.inputs[k]);
      any_image |= r == Rows::PerImage;
      any_size |= r == Rows::BatchSize;
    }
    const OpTraits& traits = net.traits(idx);
    const BatchSizeUse& sizes = traits.batch_sizes;
    Rows out = Rows::Const;
    if (sizes.measures) {
      out = rows_of(n.inputs.at(0)) == Rows::PerImage ? Rows::BatchSize : Rows::Const;
    } else if (any_image || (any_size && !sizes.arithmetic)) {
      for (std::size_t k = 0; k < n.inputs.size(); ++k)
        if (n.has_input(k) && rows_of(n.inputs[k]) == Rows::BatchSize &&
            !(k < 8 && (sizes.shape_inputs >> k) & 1u))
          return make_error(n.label() + " computes with the batch size (input " +
                            std::to_string(k) + ", '" + n.inputs[k] + "')");
      const std::string& x = n.inputs.at(0);
      const auto rank = probe->shapes[0].count(x) ? probe->shapes[0].at(x).size() : 0;
      if (traits.fn.mixes_images)
        if (auto why = traits.fn.mixes_images(net, n, rank, rows_of(x) == Rows::PerImage))
          return make_error(n.label() + " " + *why);
      out = Rows::PerImage;
    } else if (any_size) {
      out = Rows::BatchSize;
    }
    for (const auto& o : n.outputs) {
      if (o.empty()) continue;
      rows[o] = out;
      if (!probe->shapes[0].count(o) || !probe->shapes[1].count(o)) continue;  // never computed
      if (out == Rows::PerImage && !per_image_shape(o))
        return make_error(n.label() + " output '" + o + "' does not keep the batch in axis 0 (" +
                          shape_str(probe->shapes[0].at(o)) + " at batch " +
                          std::to_string(kProbe[0]) + ", " + shape_str(probe->shapes[1].at(o)) +
                          " at batch " + std::to_string(kProbe[1]) + ")");
    }
  }
  for (const auto& o : net.model.outputs)
    if (rows_of(o.name) != Rows::PerImage)
      return make_error("output '" + o.name + "' is not computed per image");
  return Ok{};
}

}  // namespace mpq
