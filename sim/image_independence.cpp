// A value is Const (no input reaches it), PerImage (axis 0 is the batch; row b depends only
// on row b of the inputs) or BatchSize (small ints from Shape/Size of a per-image value: the
// batch size itself). Most ops that would mix images change a per-image shape (a Transpose or
// Reshape moving axis 0, a reduction or Concat over it, a Flatten from axis 0, a MatMul of two
// rank-2 per-image values), which the shapes at two batch sizes expose. The rest keep the shape
// and are checked by their axes.
#include "image_independence.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine.hpp"
#include "prepare.hpp"

namespace mpq {
namespace {

enum class Rows { Const, PerImage, BatchSize };

constexpr std::int64_t kProbe[2] = {2, 3};

// Ops reviewed for this analysis. Any other op type with a non-constant input is refused.
// clang-format off
const std::set<std::string, std::less<>>& reviewed_ops() {
  static const std::set<std::string, std::less<>> ops = {
      "Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization", "Cast", "Ceil",
      "Clip", "Concat", "ConstantOfShape", "Conv", "ConvTranspose", "Div", "Dropout", "Elu",
      "Equal", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather", "GatherElements", "GatherND",
      "Gelu", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Greater", "GreaterOrEqual",
      "HardSigmoid", "HardSwish", "Identity", "LayerNormalization", "LeakyRelu", "Less",
      "LessOrEqual", "Log", "LogSoftmax", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mish", "Mod",
      "Mul", "Neg", "Not", "Or", "PRelu", "Pad", "Pow", "Reciprocal", "ReduceL1", "ReduceL2",
      "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd",
      "ReduceSum", "ReduceSumSquare", "Relu", "Reshape", "Resize", "Round", "Selu", "Shape",
      "Sigmoid", "Sign", "Size", "Slice", "Softmax", "Softplus", "Softsign", "Split", "Sqrt",
      "Squeeze", "Sub", "Sum", "Tanh", "Tile", "Transpose", "Unsqueeze", "Upsample", "Where",
      "Xor", "mpq::GateMul", "mpq::RMSNormalization", "mpq::SiLU"};
  return ops;
}
// clang-format on

// Input positions that take a shape, sizes, indices or slice bounds: where a BatchSize value may
// go without its value reaching the per-image data.
bool shape_argument(const std::string& op, std::size_t k) {
  if (op == "Reshape" || op == "Expand" || op == "Tile") return k == 1;
  if (op == "ConstantOfShape") return k == 0;
  if (op == "Slice") return k == 1 || k == 2;  // starts, ends (axes and steps must be Const)
  if (op == "Resize") return k == 3;           // sizes
  return false;
}

// Ops that compute on BatchSize values (shape arithmetic) and give BatchSize values.
bool shape_arithmetic(const std::string& op) {
  static const std::set<std::string> ops = {"Gather", "Concat", "Unsqueeze", "Squeeze", "Cast",
                                            "Add",    "Sub",    "Mul",       "Div",     "Slice",
                                            "Equal",  "Where",  "Identity",  "Max",     "Min"};
  return ops.count(op) != 0;
}

std::int64_t normalized_axis(std::int64_t axis, std::size_t rank) {
  return axis < 0 ? axis + static_cast<std::int64_t>(rank) : axis;
}

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

// The axis-0 rules of the shape-keeping ops that may mix images; `data_per_image`: input 0
// holds images (not a constant table).
Status check_axes(const OpNode& n, const Network& net, std::size_t rank, bool data_per_image) {
  const std::string& op = n.op_type;
  auto refuse = [&](const std::string& why) -> Status { return make_error(n.label() + " " + why); };
  if (op == "Softmax" || op == "LogSoftmax") {
    const std::int64_t dflt = net.model.opset >= 13 ? -1 : 1;
    if (normalized_axis(n.attr_int("axis", dflt), rank) == 0)
      return refuse("normalizes over axis 0, the batch");
  } else if (op == "LayerNormalization" || op == "mpq::RMSNormalization") {
    if (normalized_axis(n.attr_int("axis", -1), rank) <= 0)
      return refuse("normalizes over axis 0, the batch");
  } else if (op == "Gather" || op == "GatherElements") {
    // Along axis 0 of the images it picks rows of other images; of a constant table (an
    // embedding lookup of each image's ids) it keeps each image's rows with its indices.
    if (data_per_image && normalized_axis(n.attr_int("axis", 0), rank) == 0)
      return refuse("gathers along axis 0, the batch");
  } else if (op == "GatherND") {
    if (data_per_image && n.attr_int("batch_dims", 0) < 1)
      return refuse("indexes axis 0, the batch");
  } else if (op == "Slice") {
    // Rows stay in order when axis 0 is not sliced or sliced with step 1 (the shapes check
    // that all rows are kept).
    std::vector<std::int64_t> axes, steps;
    if (n.has_input(3)) {
      auto it = net.model.initializers.find(n.inputs[3]);
      if (it == net.model.initializers.end()) return refuse("takes its axes from the data");
      axes = it->second.to_ints();
    } else {
      for (std::size_t a = 0; a < rank; ++a) axes.push_back(static_cast<std::int64_t>(a));
    }
    if (n.has_input(4)) {
      auto it = net.model.initializers.find(n.inputs[4]);
      if (it == net.model.initializers.end()) return refuse("takes its steps from the data");
      steps = it->second.to_ints();
    }
    for (std::size_t a = 0; a < axes.size(); ++a)
      if (normalized_axis(axes[a], rank) == 0 && a < steps.size() && steps[a] != 1)
        return refuse("steps through axis 0, the batch, with step " + std::to_string(steps[a]));
  }
  return Ok{};
}

}  // namespace

bool image_independence_reviewed(std::string_view op_type) {
  return reviewed_ops().count(op_type) != 0;
}

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
    Rows out = Rows::Const;
    if (n.op_type == "Shape" || n.op_type == "Size") {
      out = rows_of(n.inputs.at(0)) == Rows::PerImage ? Rows::BatchSize : Rows::Const;
    } else if (any_image || (any_size && !shape_arithmetic(n.op_type))) {
      if (!image_independence_reviewed(n.op_type))
        return make_error(n.label() + " is not known to keep the images of a batch apart");
      for (std::size_t k = 0; k < n.inputs.size(); ++k)
        if (n.has_input(k) && rows_of(n.inputs[k]) == Rows::BatchSize &&
            !shape_argument(n.op_type, k))
          return make_error(n.label() + " computes with the batch size (input " +
                            std::to_string(k) + ", '" + n.inputs[k] + "')");
      const std::string& x = n.inputs.at(0);
      const auto rank = probe->shapes[0].count(x) ? probe->shapes[0].at(x).size() : 0;
      if (auto st = check_axes(n, net, rank, rows_of(x) == Rows::PerImage); !st) return st;
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
