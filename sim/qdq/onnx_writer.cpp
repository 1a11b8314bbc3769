#include "onnx_writer.hpp"

#include <cstring>

namespace mpq {
namespace {

using TP = onnx::TensorProto;
using AP = onnx::AttributeProto;

template <class T>
std::string raw_bytes(const T* data, std::size_t n) {
  std::string s(n * sizeof(T), '\0');
  if (n) std::memcpy(s.data(), data, n * sizeof(T));
  return s;
}

int onnx_type_of(DType d) {
  switch (d) {
    case DType::Float32:
      return TP::FLOAT;
    case DType::Int64:
      return TP::INT64;
    case DType::Bool:
      return TP::BOOL;
  }
  return TP::UNDEFINED;
}

struct AttributeWriter {
  AP& a;
  void operator()(std::int64_t v) const {
    a.set_type(AP::INT);
    a.set_i(v);
  }
  void operator()(float v) const {
    a.set_type(AP::FLOAT);
    a.set_f(v);
  }
  void operator()(const std::string& v) const {
    a.set_type(AP::STRING);
    a.set_s(v);
  }
  void operator()(const std::vector<std::int64_t>& v) const {
    a.set_type(AP::INTS);
    for (auto x : v) a.add_ints(x);
  }
  void operator()(const std::vector<float>& v) const {
    a.set_type(AP::FLOATS);
    for (auto x : v) a.add_floats(x);
  }
  void operator()(const std::vector<std::string>& v) const {
    a.set_type(AP::STRINGS);
    for (const auto& x : v) a.add_strings(x);
  }
  void operator()(const Tensor& t) const {
    a.set_type(AP::TENSOR);
    tensor_to_proto(t, "", *a.mutable_t());
  }
};

}  // namespace

void tensor_to_proto(const Tensor& t, const std::string& name, TP& out) {
  out.Clear();
  if (!name.empty()) out.set_name(name);
  out.set_data_type(onnx_type_of(t.dtype));
  for (auto d : t.shape) out.add_dims(d);
  if (t.dtype == DType::Float32) {
    out.set_raw_data(raw_bytes(t.f.data(), t.f.size()));
  } else if (t.dtype == DType::Int64) {
    out.set_raw_data(raw_bytes(t.i.data(), t.i.size()));
  } else {
    std::string s(t.i.size(), '\0');
    for (std::size_t k = 0; k < t.i.size(); ++k) s[k] = t.i[k] ? 1 : 0;
    out.set_raw_data(s);
  }
}

void node_to_proto(const OpNode& n, onnx::NodeProto& out) {
  out.Clear();
  if (!n.name.empty()) out.set_name(n.name);
  if (auto sep = n.op_type.find("::"); sep != std::string::npos) {
    out.set_domain(n.op_type.substr(0, sep));
    out.set_op_type(n.op_type.substr(sep + 2));
  } else {
    out.set_op_type(n.op_type);
  }
  for (const auto& in : n.inputs) out.add_input(in);
  for (const auto& o : n.outputs) out.add_output(o);
  for (const auto& [key, value] : n.attrs) {
    AP& a = *out.add_attribute();
    a.set_name(key);
    std::visit(AttributeWriter{a}, value);
  }
}

void value_info_to_proto(const ValueInfo& v, onnx::ValueInfoProto& out) {
  out.Clear();
  out.set_name(v.name);
  auto* tt = out.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx_type_of(v.dtype));
  if (!v.has_shape) return;
  auto* shape = tt->mutable_shape();
  for (std::size_t k = 0; k < v.dims.size(); ++k) {
    auto* dim = shape->add_dim();
    const std::string param = k < v.dim_params.size() ? v.dim_params[k] : "";
    if (!param.empty())
      dim->set_dim_param(param);
    else if (v.dims[k] >= 0)
      dim->set_dim_value(v.dims[k]);
  }
}

}  // namespace mpq
