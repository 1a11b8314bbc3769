#include "old_opset_upgrade.hpp"

#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/version_converter/convert.h>

#include <set>
#include <vector>

#include "graph/onnx_import.hpp"
#include "onnx_writer.hpp"

namespace mpq {
namespace {

// The IR version ONNX released with each opset (the converter checks the pair).
int ir_version_of(std::int64_t opset) {
  return opset <= 8 ? 3 : static_cast<int>(opset) - 5;
}

// A tensor's type for the one-node model: the prepared network's shape, with the model's
// symbolic dimension names where ONNX inferred the same rank (so a converted Reshape keeps a
// dynamic batch as -1 instead of the batch-1 shape mpq prepared).
ValueInfo type_of(const Model& m, const TensorShapes& t, const std::string& name) {
  ValueInfo v;
  v.name = name;
  if (t.dtypes)
    if (auto it = t.dtypes->find(name); it != t.dtypes->end()) v.dtype = it->second;
  if (t.shapes)
    if (auto it = t.shapes->find(name); it != t.shapes->end()) {
      v.dims = it->second;
      v.has_shape = true;
    }
  if (const ValueInfo* known = m.find_value(name); known && known->has_shape) {
    if (!v.has_shape) return *known;
    if (known->dims.size() == v.dims.size()) v.dim_params = known->dim_params;
  }
  return v;
}

class NodeUpgrader {
 public:
  NodeUpgrader(Model& m, const TensorShapes& t) : m_(m), types_(t) {
    for (const auto& v : m.inputs) names_.insert(v.name);
    for (const auto& [name, init] : m.initializers) names_.insert(name);
    for (const auto& n : m.nodes) names_.insert(n.outputs.begin(), n.outputs.end());
  }

  Result<std::vector<OpNode>> upgrade(const OpNode& n) {
    auto converted = convert(n);
    if (!converted) return converted.error();
    return read_back(n, *converted);
  }

 private:
  Result<onnx::ModelProto> convert(const OpNode& n) const {
    onnx::ModelProto mp;
    mp.set_ir_version(ir_version_of(m_.opset));
    auto* op = mp.add_opset_import();
    op->set_domain("");
    op->set_version(m_.opset);
    auto& g = *mp.mutable_graph();
    g.set_name("upgrade");
    std::set<std::string> seen;
    for (const auto& in : n.inputs) {
      if (in.empty() || !seen.insert(in).second) continue;
      if (m_.is_constant(in))
        tensor_to_proto(m_.initializers.at(in), in, *g.add_initializer());
      else
        value_info_to_proto(type_of(m_, types_, in), *g.add_input());
    }
    for (const auto& out : n.outputs) {
      if (out.empty()) continue;
      ValueInfo v = type_of(m_, types_, out);
      v.has_shape = false;  // the converter infers it; a batch-1 shape would contradict it
      value_info_to_proto(v, *g.add_output());
    }
    node_to_proto(n, *g.add_node());
    try {
      return onnx::version_conversion::ConvertVersion(mp, kConverterTargetOpset);
    } catch (const std::exception& e) {
      return make_error("ONNX's version converter cannot upgrade " + n.label() + " from opset " +
                        std::to_string(m_.opset) + " to " + std::to_string(kConverterTargetOpset) +
                        ": " + e.what() + " (nothing was written)");
    }
  }

  std::string fresh(const OpNode& n, const std::string& base) {
    std::string s = (n.name.empty() ? n.outputs.at(0) : n.name) + "/opset13/" + base;
    while (names_.count(s)) s += "_";
    names_.insert(s);
    return s;
  }

  // The converted nodes with the converter's new tensors renamed apart from the model's and
  // its Constant nodes as initializers (as the import keeps them).
  Result<std::vector<OpNode>> read_back(const OpNode& n, const onnx::ModelProto& mp) {
    const std::set<std::string> kept(n.inputs.begin(), n.inputs.end());
    const std::set<std::string> outputs(n.outputs.begin(), n.outputs.end());
    std::map<std::string, std::string> rename;
    const auto renamed = [&](const std::string& s) {
      auto it = rename.find(s);
      return it == rename.end() ? s : it->second;
    };
    const std::string where = "upgraded " + n.label();
    for (const auto& init : mp.graph().initializer()) {
      if (kept.count(init.name())) continue;
      auto t = constant_value_of(init, where);
      if (!t) return t.error();
      rename[init.name()] = fresh(n, init.name());
      m_.initializers[rename[init.name()]] = std::move(t).value();
    }
    std::vector<OpNode> out;
    for (const auto& p : mp.graph().node()) {
      if (p.op_type() == "Constant" && p.domain().empty()) {
        auto t = constant_value(p, where);
        if (!t) return t.error();
        rename[p.output(0)] = fresh(n, p.output(0));
        m_.initializers[rename[p.output(0)]] = std::move(t).value();
        continue;
      }
      auto node = node_from_proto(p, where);
      if (!node) return node.error();
      for (auto& in : node->inputs) in = renamed(in);
      for (auto& o : node->outputs) {
        if (o.empty() || outputs.count(o)) continue;
        rename[o] = fresh(n, o);
        o = rename[o];
      }
      if (node->name.empty() || out.size() > 0) node->name = fresh(n, node->op_type);
      out.push_back(std::move(node).value());
    }
    if (!out.empty()) out.back().name = n.name;
    return out;
  }

  static Result<Tensor> constant_value_of(const onnx::TensorProto& t, const std::string& where) {
    onnx::NodeProto c;
    c.set_op_type("Constant");
    auto* a = c.add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    *a->mutable_t() = t;
    return constant_value(c, where);
  }

  Model& m_;
  const TensorShapes& types_;
  std::set<std::string> names_;
};

// Upsample and Resize-10 compute with "asymmetric" coordinates and, for nearest, truncate
// when upsampling and round up when downsampling (onnxruntime's and mpq's rule); the
// converter's Resize-13 would take half_pixel / round_prefer_floor.
Status keep_old_resize_semantics(const Model& m, const OpNode& old, OpNode& resize) {
  resize.attrs["coordinate_transformation_mode"] = std::string("asymmetric");
  std::string mode = resize.attr_string("mode", "nearest");
  if (mode == "bilinear") resize.attrs["mode"] = mode = "linear";
  if (mode != "nearest") return Ok{};
  std::vector<float> scales = old.attr_floats("scales");
  if (scales.empty() && old.has_input(1) && m.is_constant(old.inputs[1])) {
    const Tensor& s = m.initializers.at(old.inputs[1]);
    scales.assign(s.f.begin(), s.f.end());
  }
  bool up = false;
  bool down = false;
  for (float s : scales) {
    up |= s > 1.0F;
    down |= s < 1.0F;
  }
  if ((up && down) || scales.empty())
    return make_error(old.label() +
                      ": its nearest rounding (truncate when upsampling, round up when "
                      "downsampling) has no opset-13 equivalent for " +
                      (scales.empty()
                           ? std::string("scales computed at run time")
                           : std::string("scales that shrink one axis and grow another")) +
                      " (nothing was written)");
  resize.attrs["nearest_mode"] = std::string(down ? "ceil" : "floor");
  return Ok{};
}

bool has_schema(const std::string& op, std::int64_t opset) {
  return op.find("::") == std::string::npos &&
         onnx::OpSchemaRegistry::Schema(op, static_cast<int>(opset), "") != nullptr;
}

}  // namespace

Status upgrade_to_opset13(Model& m, const TensorShapes& types) {
  if (m.opset < kOldestUpgradableOpset)
    return make_error("the model uses opset " + std::to_string(m.opset) +
                      ", older than ONNX's version converter can upgrade here (opset " +
                      std::to_string(kOldestUpgradableOpset) + " on); nothing was written");
  NodeUpgrader upgrader(m, types);
  std::vector<OpNode> nodes;
  for (const OpNode& n : m.nodes) {
    // mpq's fused ops and other domains are written by mpq itself at the target opset.
    if (!has_schema(n.op_type, m.opset)) {
      nodes.push_back(n);
      continue;
    }
    auto up = upgrader.upgrade(n);
    if (!up) return up.error();
    const bool old_resize = n.op_type == "Upsample" || (n.op_type == "Resize" && m.opset < 11);
    for (OpNode& u : *up) {
      if (old_resize && u.op_type == "Resize")
        if (auto st = keep_old_resize_semantics(m, n, u); !st) return st;
      nodes.push_back(std::move(u));
    }
  }
  m.nodes = std::move(nodes);
  m.opset = kConverterTargetOpset;
  m.drop_unused_initializers();
  return Ok{};
}

}  // namespace mpq
