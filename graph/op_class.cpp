#include "op_class.hpp"

namespace mpq {

const char* op_class_name(OpClass c) {
  switch (c) {
    case OpClass::Conv:
      return "conv";
    case OpClass::DepthwiseConv:
      return "depthwise_conv";
    case OpClass::ConvTranspose:
      return "conv_transpose";
    case OpClass::Gemm:
      return "gemm";
    case OpClass::MatMul:
      return "matmul";
    case OpClass::Elementwise:
      return "elementwise";
    case OpClass::Activation:
      return "activation";
    case OpClass::Pooling:
      return "pooling";
    case OpClass::Normalization:
      return "normalization";
    case OpClass::Resize:
      return "resize";
    case OpClass::DataMovement:
      return "data_movement";
    case OpClass::Other:
      return "other";
  }
  return "other";
}

const std::vector<std::string>& op_class_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (int k = 0; k <= static_cast<int>(OpClass::Other); ++k)
      v.push_back(op_class_name(static_cast<OpClass>(k)));
    return v;
  }();
  return names;
}

OpClass classify_op(const Network& net, std::size_t node) {
  const OpTraits& t = net.traits(node);
  return t.fn.refine_class ? t.fn.refine_class(net, net.node(node)) : t.op_class;
}

bool is_mac_class(OpClass c) {
  return c == OpClass::Conv || c == OpClass::DepthwiseConv || c == OpClass::ConvTranspose ||
         c == OpClass::Gemm || c == OpClass::MatMul;
}

}  // namespace mpq
