#pragma once
// Reads an .onnx file into a Model: Constant nodes become initializers, dynamic input
// dimensions are resolved from user-given shapes, and ONNX shape inference fills value_info.
#include <map>
#include <string>

#include "core/result.hpp"
#include "model.hpp"

namespace onnx {
class NodeProto;
}

namespace mpq {

struct ImportOptions {
  std::map<std::string, Shape> input_shapes;  // overrides, e.g. {"x", {1, 3, 224, 224}}
};

Result<Model> load_onnx(const std::string& path, const ImportOptions& opts = {});

// One ONNX node as an OpNode ("domain::Op" for other domains; graph attributes are dropped).
// `where` names the node in errors.
Result<OpNode> node_from_proto(const onnx::NodeProto& n, const std::string& where);
// The value of a Constant node (all the value_* forms the opsets define).
Result<Tensor> constant_value(const onnx::NodeProto& n, const std::string& where);

// Parses "x:1x3x224x224" (or "1x3x224x224" for the only input) into (name, shape).
Result<std::pair<std::string, Shape>> parse_input_shape(const std::string& spec);

}  // namespace mpq
