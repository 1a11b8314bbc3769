#include "qdq_builder.hpp"

#include <cstring>

namespace mpq {

std::string QdqBuilder::fresh(const std::string& base) {
  std::string name = base;
  for (int k = 1; used_.count(name); ++k) name = base + "_" + std::to_string(k);
  used_.insert(name);
  return name;
}

void QdqBuilder::add_floats(const std::string& name, const std::vector<float>& v,
                            const std::vector<std::int64_t>& dims) {
  std::string raw(v.size() * sizeof(float), '\0');
  if (!v.empty()) std::memcpy(raw.data(), v.data(), raw.size());
  add_raw(name, OnnxType::Float, raw, dims);
}

void QdqBuilder::add_raw(const std::string& name, OnnxType type, const std::string& raw,
                         const std::vector<std::int64_t>& dims) {
  auto* t = g_.add_initializer();
  t->set_name(name);
  t->set_data_type(static_cast<int>(type));
  for (auto d : dims) t->add_dims(d);
  t->set_raw_data(raw);
  used_.insert(name);
}

void QdqBuilder::add_scale_zero(const std::string& scale_name, const std::string& zp_name,
                                OnnxType type, const std::vector<float>& scale,
                                const std::vector<std::int32_t>& zp) {
  std::vector<std::int64_t> dims;
  if (scale.size() > 1) dims.push_back(static_cast<std::int64_t>(scale.size()));
  add_floats(scale_name, scale, dims);
  if (zp_name.empty()) return;
  std::vector<std::int32_t> z = zp;
  z.resize(scale.size(), 0);  // float8: a zero point of 0 in the target type
  add_raw(zp_name, type, pack_ints(z, type), dims);
}

onnx::NodeProto& QdqBuilder::add_node(const std::string& op, const std::vector<std::string>& inputs,
                                      const std::vector<std::string>& outputs) {
  auto* n = g_.add_node();
  n->set_op_type(op);
  n->set_name(fresh(outputs.at(0) + "/" + op));
  for (const auto& in : inputs) n->add_input(in);
  for (const auto& o : outputs) n->add_output(o);
  return *n;
}

void QdqBuilder::set_int(onnx::NodeProto& n, const std::string& key, std::int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

}  // namespace mpq
