#include "onnx_import.hpp"

#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/memory_budget.hpp"
#include "tensor_proto.hpp"
#include "window_attributes.hpp"

namespace mpq {
namespace {

Result<Attribute> attribute_from_proto(const onnx::AttributeProto& a, const std::string& where) {
  using AP = onnx::AttributeProto;
  switch (a.type()) {
    case AP::INT:
      return Attribute{static_cast<std::int64_t>(a.i())};
    case AP::FLOAT:
      return Attribute{a.f()};
    case AP::STRING:
      return Attribute{a.s()};
    case AP::INTS:
      return Attribute{std::vector<std::int64_t>(a.ints().begin(), a.ints().end())};
    case AP::FLOATS:
      return Attribute{std::vector<float>(a.floats().begin(), a.floats().end())};
    case AP::STRINGS:
      return Attribute{std::vector<std::string>(a.strings().begin(), a.strings().end())};
    case AP::TENSOR: {
      auto t = tensor_from_proto(a.t(), where + " attribute '" + a.name() + "'");
      if (!t) return t.error();
      return Attribute{std::move(t).value()};
    }
    default:
      return make_error(where + ": attribute '" + a.name() + "' of type " +
                        AP::AttributeType_Name(a.type()) + " is not supported");
  }
}

ValueInfo value_info_from_proto(const onnx::ValueInfoProto& v) {
  ValueInfo out;
  out.name = v.name();
  if (v.type().has_tensor_type()) {
    const auto& tt = v.type().tensor_type();
    DType d;
    if (dtype_from_onnx(tt.elem_type(), d)) out.dtype = d;
    if (tt.has_shape()) {
      out.has_shape = true;
      for (const auto& dim : tt.shape().dim()) {
        out.dims.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
        out.dim_params.push_back(dim.has_dim_param() ? dim.dim_param() : "");
      }
    }
  }
  return out;
}

}  // namespace

Result<Tensor> constant_value(const onnx::NodeProto& n, const std::string& where) {
  for (const auto& a : n.attribute()) {
    if (a.name() == "value") return tensor_from_proto(a.t(), where);
    if (a.name() == "value_float") return Tensor::scalar_f(a.f());
    if (a.name() == "value_int") return Tensor::scalar_i(a.i());
    if (a.name() == "value_floats") {
      Tensor t;
      t.f.assign(a.floats().begin(), a.floats().end());
      t.shape = {static_cast<std::int64_t>(t.f.size())};
      return t;
    }
    if (a.name() == "value_ints")
      return Tensor::from_ints(std::vector<std::int64_t>(a.ints().begin(), a.ints().end()));
  }
  return make_error(where +
                    ": Constant node without a supported value attribute "
                    "(sparse_value and strings are not supported)");
}

Result<OpNode> node_from_proto(const onnx::NodeProto& n, const std::string& where) {
  OpNode node;
  node.name = n.name();
  node.op_type = (n.domain().empty() || n.domain() == "ai.onnx") ? n.op_type()
                                                                 : n.domain() + "::" + n.op_type();
  node.inputs.assign(n.input().begin(), n.input().end());
  node.outputs.assign(n.output().begin(), n.output().end());
  // Every op mpq knows has an output, and nodes are named by their first output when unnamed.
  if (node.outputs.empty() || node.outputs[0].empty())
    return make_error(where + ": the node has no output");
  for (const auto& a : n.attribute()) {
    if (a.type() == onnx::AttributeProto::GRAPH || a.type() == onnx::AttributeProto::GRAPHS)
      continue;  // control flow: rejected later as an unsupported op
    auto attr = attribute_from_proto(a, where);
    if (!attr) return attr.error();
    node.attrs[a.name()] = std::move(attr).value();
  }
  return node;
}

namespace {

void set_input_shape(onnx::ValueInfoProto& v, const Shape& s) {
  auto* shape = v.mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->clear_dim();
  for (auto d : s) shape->add_dim()->set_dim_value(d);
}

}  // namespace

Result<std::pair<std::string, Shape>> parse_input_shape(const std::string& spec) {
  std::string name;
  std::string dims = spec;
  if (auto colon = spec.rfind(':'); colon != std::string::npos) {
    name = spec.substr(0, colon);
    dims = spec.substr(colon + 1);
  }
  Shape shape;
  std::stringstream ss(dims);
  std::string tok;
  while (std::getline(ss, tok, 'x')) {
    try {
      std::size_t used = 0;
      const long long v = std::stoll(tok, &used);
      if (used != tok.size() || v <= 0) throw std::invalid_argument(tok);
      shape.push_back(v);
    } catch (const std::exception&) {
      return make_error("bad input shape '" + spec +
                        "': expected NAME:D1xD2x... with positive integers, e.g. x:1x3x224x224");
    }
  }
  if (shape.empty()) return make_error("bad input shape '" + spec + "': no dimensions");
  return std::pair{name, shape};
}

Result<Model> load_onnx(const std::string& path, const ImportOptions& opts) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return make_error("cannot open model file '" + path + "'");
  // The file's bytes and the parsed protobuf are held together.
  const std::int64_t file_bytes = static_cast<std::int64_t>(in.tellg());
  if (auto st =
          check_memory(checked_bytes(file_bytes, 2), "model file '" + path + "' (read and parsed)");
      !st)
    return st.error();
  in.seekg(0);
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string bytes = buf.str();
  onnx::ModelProto mp;
  if (bytes.empty() || !mp.ParseFromString(bytes) || !mp.has_graph())
    return make_error("'" + path +
                      "' is not a valid ONNX model (the file is truncated, corrupt or not ONNX)");

  Model m;
  m.path = path;
  m.producer = mp.producer_name();
  for (const auto& op : mp.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") m.opset = op.version();
  if (m.opset == 0) m.opset = 1;
  for (const auto& p : mp.metadata_props()) m.metadata[p.key()] = p.value();

  auto& g = *mp.mutable_graph();
  const std::string file = std::filesystem::path(path).filename().string();

  std::set<std::string> init_names;
  for (const auto& init : g.initializer()) init_names.insert(init.name());
  if (g.sparse_initializer_size() > 0)
    return make_error(file + ": sparse initializers are not supported");

  // Apply user input shapes to the proto so that ONNX shape inference sees them.
  std::set<std::string> applied;
  for (auto& vi : *g.mutable_input()) {
    if (init_names.count(vi.name())) continue;
    auto it = opts.input_shapes.find(vi.name());
    if (it == opts.input_shapes.end() && opts.input_shapes.count("")) {
      it = opts.input_shapes.find("");
    }
    if (it == opts.input_shapes.end()) continue;
    const ValueInfo declared = value_info_from_proto(vi);
    if (declared.has_shape && declared.dims.size() != it->second.size())
      return make_error(file + ": input '" + vi.name() + "' has rank " +
                        std::to_string(declared.dims.size()) + " " + shape_str(declared.dims) +
                        ", but the given shape " + shape_str(it->second) + " has rank " +
                        std::to_string(it->second.size()));
    for (std::size_t k = 0; declared.has_shape && k < declared.dims.size(); ++k)
      if (declared.dims[k] > 0 && declared.dims[k] != it->second[k])
        return make_error(file + ": input '" + vi.name() + "' has fixed dimension " +
                          std::to_string(k) + " = " + std::to_string(declared.dims[k]) +
                          ", but the given shape " + shape_str(it->second) + " says " +
                          std::to_string(it->second[k]));
    set_input_shape(vi, it->second);
    applied.insert(it->first);
  }
  for (const auto& [name, shape] : opts.input_shapes)
    if (!applied.count(name)) {
      std::string names;
      for (const auto& vi : g.input())
        if (!init_names.count(vi.name())) names += (names.empty() ? "" : ", ") + vi.name();
      return make_error(file + ": --input-shape names input '" + name +
                        "', but the model's inputs are: " + names);
    }

  if (auto st = check_window_attributes(g, file); !st) return st.error();
  // ONNX shape inference; models it rejects still run (the engine infers shapes itself).
  try {
    onnx::shape_inference::InferShapes(mp);
  } catch (const std::exception&) {
  }

  for (const auto& init : g.initializer()) {
    auto t = tensor_from_proto(init, file + ": initializer '" + init.name() + "'");
    if (!t) return t.error();
    m.initializers[init.name()] = std::move(t).value();
  }
  // bfloat16 values at the graph boundary have no float32-exact file representation here;
  // inside the graph they are computed in float32.
  for (const auto* list : {&g.input(), &g.output()})
    for (const auto& vi : *list)
      if (vi.type().tensor_type().elem_type() == onnx::TensorProto::BFLOAT16)
        return make_error(file + ": graph input/output '" + vi.name() +
                          "' is bfloat16, which is not supported at the model boundary");
  for (const auto& vi : g.input())
    if (!init_names.count(vi.name())) m.inputs.push_back(value_info_from_proto(vi));
  for (const auto& vi : g.output()) m.outputs.push_back(value_info_from_proto(vi));
  for (const auto& vi : g.value_info()) m.value_info[vi.name()] = value_info_from_proto(vi);

  int index = 0;
  for (const auto& n : g.node()) {
    const std::string where = file + ": node " + std::to_string(index++) + " (" + n.op_type() +
                              (n.name().empty() ? "" : " '" + n.name() + "'") + ")";
    if (n.op_type() == "Constant" && (n.domain().empty() || n.domain() == "ai.onnx") &&
        n.output_size() == 1) {
      auto t = constant_value(n, where);
      if (!t) return t.error();
      m.initializers[n.output(0)] = std::move(t).value();
      continue;
    }
    auto node = node_from_proto(n, where);
    if (!node) return node.error();
    m.nodes.push_back(std::move(node).value());
  }
  return m;
}

}  // namespace mpq
