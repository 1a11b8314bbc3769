#include "pattern_view.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mpq {

PatternView::PatternView(const Model& m, const std::map<std::string, Shape>& shapes)
    : m_(m), shapes_(shapes) {
  for (std::size_t k = 0; k < m.nodes.size(); ++k) {
    const OpNode& n = m.nodes[k];
    for (const auto& out : n.outputs)
      if (!out.empty()) producer_[out] = k;
    for (const auto& in : n.inputs) {
      if (in.empty()) continue;
      ++uses_[in];
      auto& c = consumers_[in];
      if (c.empty() || c.back() != k) c.push_back(k);
    }
  }
  for (const auto& o : m.outputs) {
    outputs_.insert(o.name);
    ++uses_[o.name];
  }
}

const OpNode* PatternView::producer(const std::string& t) const {
  auto k = producer_index(t);
  return k ? &m_.nodes[*k] : nullptr;
}

std::optional<std::size_t> PatternView::producer_index(const std::string& t) const {
  auto it = producer_.find(t);
  if (it == producer_.end()) return std::nullopt;
  return it->second;
}

const std::vector<std::size_t>& PatternView::consumers(const std::string& t) const {
  auto it = consumers_.find(t);
  return it == consumers_.end() ? none_ : it->second;
}

const OpNode* PatternView::sole_consumer(const std::string& t, std::string* why) const {
  auto k = sole_consumer_index(t);
  if (k) return &m_.nodes[*k];
  if (why) {
    const auto& c = consumers(t);
    if (is_graph_output(t))
      *why = "'" + t + "' is a graph output";
    else if (c.empty())
      *why = "nothing reads '" + t + "'";
    else
      *why = "'" + t + "' has " + std::to_string(c.size()) + " consumers (" + name_of(c[0]) + ", " +
             name_of(c[1]) + (c.size() > 2 ? ", ..." : "") + ")";
  }
  return nullptr;
}

std::optional<std::size_t> PatternView::sole_consumer_index(const std::string& t) const {
  const auto& c = consumers(t);
  if (c.size() != 1 || is_graph_output(t)) return std::nullopt;
  return c[0];
}

const Shape* PatternView::shape(const std::string& t) const {
  if (const Tensor* c = constant(t)) return &c->shape;
  auto it = shapes_.find(t);
  return it == shapes_.end() ? nullptr : &it->second;
}

const Tensor* PatternView::constant(const std::string& t) const {
  auto it = m_.initializers.find(t);
  return it == m_.initializers.end() ? nullptr : &it->second;
}

std::optional<float> PatternView::scalar(const std::string& t) const {
  const Tensor* c = constant(t);
  if (!c || !c->is_float() || c->size() == 0) return std::nullopt;
  for (float v : c->f)
    if (v != c->f[0]) return std::nullopt;
  return c->f[0];
}

std::optional<std::string> PatternView::constant_operand(const OpNode& n, const std::string& t,
                                                         int* position) const {
  if (n.inputs.size() != 2 || n.outputs.size() != 1) return std::nullopt;
  const int pos = n.inputs[0] == t ? 1 : n.inputs[1] == t ? 0 : -1;
  if (pos < 0 || !constant(n.inputs[static_cast<std::size_t>(pos)])) return std::nullopt;
  const Shape* in = shape(t);
  const Shape* out = shape(n.outputs[0]);
  if (!in || !out || *in != *out) return std::nullopt;
  if (position) *position = pos;
  return n.inputs[static_cast<std::size_t>(pos)];
}

std::optional<float> PatternView::scalar_operand(const OpNode& n, const std::string& t) const {
  int pos = -1;
  auto c = constant_operand(n, t, &pos);
  if (!c) return std::nullopt;
  const bool commutes = n.op_type == "Add" || n.op_type == "Mul";
  if (!commutes && pos != 1) return std::nullopt;
  return scalar(*c);
}

std::string PatternView::other_input(const OpNode& n, const std::string& t) {
  if (n.inputs.size() != 2) return "";
  if (n.inputs[0] == t) return n.inputs[1];
  if (n.inputs[1] == t) return n.inputs[0];
  return "";
}

std::string PatternView::name_of(std::size_t k) const {
  return m_.nodes[k].label();
}

bool near(float v, double expected) {
  return std::abs(static_cast<double>(v) - expected) <= 1e-6 * std::abs(expected) + 1e-12;
}

std::optional<std::pair<float, float>> clip_bounds(const Model& m, const OpNode& clip) {
  float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
  if (m.opset < 11) {
    lo = clip.attr_float("min", lo);
    hi = clip.attr_float("max", hi);
    return std::make_pair(lo, hi);
  }
  for (std::size_t k = 1; k <= 2; ++k) {
    if (!clip.has_input(k)) continue;
    auto it = m.initializers.find(clip.inputs[k]);
    if (it == m.initializers.end() || !it->second.is_float() || it->second.size() != 1)
      return std::nullopt;
    (k == 1 ? lo : hi) = it->second.f[0];
  }
  return std::make_pair(lo, hi);
}

}  // namespace mpq
