#pragma once
// Checks of a convolution's or pooling's window attributes (kernel_shape, strides, dilations,
// pads) before anything computes with them: ONNX's own shape inference divides by a stride of
// 0 (SIGFPE), and the kernels would loop or index out of bounds.
#include <onnx/onnx_pb.h>

#include <string>

#include "core/result.hpp"

namespace mpq {

// The first node of `graph` whose window attribute is out of range, named with `file`.
Status check_window_attributes(const onnx::GraphProto& graph, const std::string& file);

}  // namespace mpq
