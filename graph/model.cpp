#include "model.hpp"

#include <set>

namespace mpq {

std::int64_t OpNode::attr_int(const std::string& key, std::int64_t dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (auto* v = std::get_if<std::int64_t>(&it->second)) return *v;
  if (auto* v = std::get_if<float>(&it->second)) return static_cast<std::int64_t>(*v);
  return dflt;
}

float OpNode::attr_float(const std::string& key, float dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (auto* v = std::get_if<float>(&it->second)) return *v;
  if (auto* v = std::get_if<std::int64_t>(&it->second)) return static_cast<float>(*v);
  return dflt;
}

std::string OpNode::attr_string(const std::string& key, const std::string& dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (auto* v = std::get_if<std::string>(&it->second)) return *v;
  return dflt;
}

std::vector<std::int64_t> OpNode::attr_ints(const std::string& key,
                                            std::vector<std::int64_t> dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (auto* v = std::get_if<std::vector<std::int64_t>>(&it->second)) return *v;
  if (auto* v = std::get_if<std::int64_t>(&it->second)) return {*v};
  return dflt;
}

std::vector<float> OpNode::attr_floats(const std::string& key, std::vector<float> dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (auto* v = std::get_if<std::vector<float>>(&it->second)) return *v;
  if (auto* v = std::get_if<float>(&it->second)) return {*v};
  return dflt;
}

const Tensor* OpNode::attr_tensor(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return nullptr;
  return std::get_if<Tensor>(&it->second);
}

std::string OpNode::label() const {
  return op_type + " '" +
         (name.empty() ? (outputs.empty() ? std::string("?") : outputs[0]) : name) + "'";
}

void Model::drop_unused_initializers() {
  std::set<std::string> used;
  for (const auto& n : nodes) used.insert(n.inputs.begin(), n.inputs.end());
  for (const auto& o : outputs) used.insert(o.name);
  for (auto it = initializers.begin(); it != initializers.end();)
    it = used.count(it->first) ? std::next(it) : initializers.erase(it);
}

const ValueInfo* Model::find_value(const std::string& tensor) const {
  for (const auto& v : inputs)
    if (v.name == tensor) return &v;
  for (const auto& v : outputs)
    if (v.name == tensor) return &v;
  auto it = value_info.find(tensor);
  return it == value_info.end() ? nullptr : &it->second;
}

}  // namespace mpq
