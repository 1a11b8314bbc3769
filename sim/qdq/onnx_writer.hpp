#pragma once
// The way back from mpq's value types to ONNX protobuf: tensors, attributes, nodes and graph
// inputs/outputs, for writers that emit an .onnx file (the QDQ exporter).
#include <onnx/onnx_pb.h>

#include <string>

#include "graph/model.hpp"

namespace mpq {

// Float32 tensors become FLOAT, Int64 INT64 and Bool BOOL, stored as little-endian raw_data.
// (The import widened every integer type to Int64 and every float type to Float32.)
void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto& out);

// Op type "domain::Op" (as the import spells non-default domains) is split back.
void node_to_proto(const OpNode& n, onnx::NodeProto& out);

// A graph input/output: element type and dims, with symbolic names where they were dynamic.
void value_info_to_proto(const ValueInfo& v, onnx::ValueInfoProto& out);

}  // namespace mpq
