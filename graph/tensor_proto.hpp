#pragma once
// Conversion of ONNX TensorProto values (initializers, Constant nodes, test-data .pb files).
#include <string>

#include "core/result.hpp"
#include "tensor.hpp"

namespace onnx {
class TensorProto;
}

namespace mpq {

// `where` names the tensor's origin for error messages.
Result<Tensor> tensor_from_proto(const onnx::TensorProto& p, const std::string& where);
// Reads a serialized TensorProto file (as in ONNX's test data sets).
Result<Tensor> read_tensor_pb(const std::string& path);
// ONNX element type code -> our dtype; nullopt-like false if unsupported.
bool dtype_from_onnx(int onnx_type, DType& out);

}  // namespace mpq
