#include "accelerator.hpp"

#include <algorithm>

#include "op_class_names.hpp"

namespace mpq::hw {

bool is_op_class_name(std::string_view s) {
  return std::find(kOpClassNames.begin(), kOpClassNames.end(), s) != kOpClassNames.end();
}

bool is_mac_op_class(std::string_view s) {
  return std::find(kMacOpClassNames.begin(), kMacOpClassNames.end(), s) != kMacOpClassNames.end();
}

std::optional<int> Accelerator::candidate_index(const Candidate& c) const {
  const auto it = std::find(candidates.begin(), candidates.end(), c);
  if (it == candidates.end()) return std::nullopt;
  return static_cast<int>(it - candidates.begin());
}

std::optional<int> Accelerator::candidate_index(std::string_view name) const {
  for (std::size_t k = 0; k < candidates.size(); ++k)
    if (candidates[k].name() == name) return static_cast<int>(k);
  return std::nullopt;
}

const OpClassSupport* Accelerator::support_of(const std::string& op_class) const {
  auto it = op_classes.find(op_class);
  if (it != op_classes.end()) return &it->second;
  it = op_classes.find("default");
  return it == op_classes.end() ? nullptr : &it->second;
}

std::vector<bool> Accelerator::accepted_candidates(const std::string& op_class,
                                                   const std::string& op_type,
                                                   bool has_weights) const {
  const std::size_t n = candidates.size();
  std::vector<bool> own(n, true);
  if (auto p = pinned_ops.find(op_type); p != pinned_ops.end()) {
    own.assign(n, false);
    own[static_cast<std::size_t>(p->second)] = true;
  } else if (const OpClassSupport* s = support_of(op_class); s && s->candidates) {
    own.assign(n, false);
    for (int c : *s->candidates) own[static_cast<std::size_t>(c)] = true;
  }
  if (has_weights) return own;
  std::vector<bool> accepted(n, false);
  for (std::size_t c = 0; c < n; ++c)
    for (std::size_t o = 0; o < n && !accepted[c]; ++o)
      accepted[c] = own[o] && candidates[o].activation == candidates[c].activation;
  return accepted;
}

std::optional<double> Accelerator::macs_per_cycle(const std::string& op_class, int c) const {
  for (const char* key : {op_class.c_str(), "default"}) {
    auto it = op_classes.find(key);
    if (it == op_classes.end()) continue;
    auto m = it->second.macs_per_cycle.find(c);
    if (m != it->second.macs_per_cycle.end()) return m->second;
  }
  return std::nullopt;
}

const char* latency_model_name(LatencyModelKind k) {
  switch (k) {
    case LatencyModelKind::Roofline:
      return "roofline";
    case LatencyModelKind::BitSerial:
      return "bit_serial";
    case LatencyModelKind::Systolic:
      return "systolic";
    case LatencyModelKind::Measured:
      return "measured";
  }
  return "?";
}

const char* dataflow_name(Dataflow d) {
  switch (d) {
    case Dataflow::WeightStationary:
      return "ws";
    case Dataflow::OutputStationary:
      return "os";
    case Dataflow::InputStationary:
      return "is";
  }
  return "?";
}

}  // namespace mpq::hw
