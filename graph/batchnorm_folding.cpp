// Standard PTQ graph preparation: y = gamma (x - mean) / sqrt(var + eps) + beta is a
// per-output-channel affine map, so it folds into the weights and bias of the producer.
#include <cmath>
#include <map>

#include "channel_affine.hpp"
#include "network.hpp"

namespace mpq {
namespace {

bool bn_affine(const Model& m, const OpNode& bn, ChannelAffine& out) {
  if (bn.inputs.size() < 5) return false;
  for (std::size_t k = 1; k < 5; ++k)
    if (!m.is_constant(bn.inputs[k])) return false;
  if (bn.attr_int("training_mode", 0) != 0) return false;
  for (std::size_t k = 1; k < bn.outputs.size(); ++k)
    if (!bn.outputs[k].empty()) return false;  // training outputs are used
  const auto& gamma = m.initializers.at(bn.inputs[1]).f;
  const auto& beta = m.initializers.at(bn.inputs[2]).f;
  const auto& mean = m.initializers.at(bn.inputs[3]).f;
  const auto& var = m.initializers.at(bn.inputs[4]).f;
  const std::size_t c = gamma.size();
  if (beta.size() != c || mean.size() != c || var.size() != c || c == 0) return false;
  const double eps = bn.attr_float("epsilon", 1e-5f);
  out.scale.resize(c);
  out.shift.resize(c);
  for (std::size_t k = 0; k < c; ++k) {
    const double s = gamma[k] / std::sqrt(static_cast<double>(var[k]) + eps);
    out.scale[k] = static_cast<float>(s);
    out.shift[k] = static_cast<float>(beta[k] - mean[k] * s);
  }
  return true;
}

}  // namespace

int fold_batchnorm(Model& m) {
  int folded = 0;
  bool changed = true;
  while (changed) {
    changed = false;
    std::map<std::string, int> uses;
    std::map<std::string, std::size_t> producer;
    for (std::size_t k = 0; k < m.nodes.size(); ++k) {
      for (const auto& in : m.nodes[k].inputs) ++uses[in];
      for (const auto& out : m.nodes[k].outputs) producer[out] = k;
    }
    for (const auto& o : m.outputs) ++uses[o.name];
    for (std::size_t k = 0; k < m.nodes.size() && !changed; ++k) {
      const OpNode& bn = m.nodes[k];
      if (bn.op_type != "BatchNormalization" || bn.inputs.empty()) continue;
      auto pit = producer.find(bn.inputs[0]);
      if (pit == producer.end() || uses[bn.inputs[0]] != 1) continue;
      ChannelAffine a;
      if (!bn_affine(m, bn, a)) continue;
      const OpNode& p = m.nodes[pit->second];
      // MatMul has no bias to take the shift (the affine chains of canonicalize.hpp fold it).
      const auto channels = foldable_channels(m, p);
      if (p.op_type == "MatMul" || channels != static_cast<std::int64_t>(a.scale.size())) continue;
      auto f = fold_channel_affine(m, p, a, uses, "bnfold");
      for (auto& [name, t] : f.initializers) m.initializers[name] = std::move(t);
      f.node.outputs[0] = bn.outputs[0];
      m.nodes[pit->second] = std::move(f.node);
      m.nodes.erase(m.nodes.begin() + static_cast<std::ptrdiff_t>(k));
      ++folded;
      changed = true;
    }
  }
  m.drop_unused_initializers();  // the BN statistics and replaced weights
  return folded;
}

}  // namespace mpq
