#include "window_attributes.hpp"

#include <set>

namespace mpq {

Status check_window_attributes(const onnx::GraphProto& graph, const std::string& file) {
  static const std::set<std::string> kWindowOps = {"Conv",        "ConvTranspose", "MaxPool",
                                                   "AveragePool", "LpPool",        "ConvInteger",
                                                   "QLinearConv", "MaxUnpool"};
  std::set<std::string> empty_initializers;
  for (const auto& init : graph.initializer())
    for (const auto d : init.dims())
      if (d == 0) empty_initializers.insert(init.name());
  for (int k = 0; k < graph.node_size(); ++k) {
    const onnx::NodeProto& n = graph.node(k);
    if (!kWindowOps.count(n.op_type())) continue;
    if (n.input_size() > 1 && empty_initializers.count(n.input(1)))
      return make_error(file + ": node '" + n.name() + "' (" + n.op_type() + "): weight '" +
                        n.input(1) + "' has a dimension of size 0");
    for (const auto& a : n.attribute()) {
      const std::string& name = a.name();
      const bool positive = name == "kernel_shape" || name == "strides" || name == "dilations";
      if (!positive && name != "pads" && name != "output_padding") continue;
      for (const auto v : a.ints())
        if (positive ? v < 1 : v < 0)
          return make_error(file + ": node '" + n.name() + "' (" + n.op_type() + "): attribute " +
                            name + " holds " + std::to_string(v) + "; every entry must be " +
                            (positive ? "at least 1" : "non-negative"));
    }
  }
  return Ok{};
}

}  // namespace mpq
