#pragma once
// The imported model as plain values: nodes, initializers, inputs/outputs and metadata.
// Network (network.hpp) adds the graph structure on top of it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "tensor.hpp"

namespace mpq {

using Attribute = std::variant<std::int64_t, float, std::string, std::vector<std::int64_t>,
                               std::vector<float>, std::vector<std::string>, Tensor>;

struct OpNode {
  std::string name;
  std::string op_type;
  std::vector<std::string> inputs;  // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attrs;

  bool has_attr(const std::string& key) const { return attrs.count(key) != 0; }
  std::int64_t attr_int(const std::string& key, std::int64_t dflt) const;
  float attr_float(const std::string& key, float dflt) const;
  std::string attr_string(const std::string& key, const std::string& dflt) const;
  std::vector<std::int64_t> attr_ints(const std::string& key,
                                      std::vector<std::int64_t> dflt = {}) const;
  std::vector<float> attr_floats(const std::string& key, std::vector<float> dflt = {}) const;
  const Tensor* attr_tensor(const std::string& key) const;
  // Input k if present and non-empty.
  bool has_input(std::size_t k) const { return k < inputs.size() && !inputs[k].empty(); }
  // "Conv 'conv1'" for error messages.
  std::string label() const;
};

struct ValueInfo {
  std::string name;
  DType dtype = DType::Float32;
  Shape dims;                           // -1 where unknown or dynamic
  std::vector<std::string> dim_params;  // symbolic names of dynamic dims ("" if none)
  bool has_shape = false;
};

struct Model {
  std::string path;
  std::int64_t opset = 0;  // of the default ("ai.onnx") domain
  std::string producer;
  std::vector<ValueInfo> inputs;  // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, Tensor> initializers;   // includes folded Constant nodes
  std::vector<OpNode> nodes;                    // in file order
  std::map<std::string, ValueInfo> value_info;  // inferred shapes of intermediate tensors
  std::map<std::string, std::string> metadata;

  bool is_constant(const std::string& tensor) const { return initializers.count(tensor) != 0; }
  // Removes initializers that no node reads and no graph output names (after folding passes).
  void drop_unused_initializers();
  const ValueInfo* find_value(const std::string& tensor) const;
};

}  // namespace mpq
