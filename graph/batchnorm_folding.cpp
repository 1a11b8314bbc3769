// Standard PTQ graph preparation: y = gamma (x - mean) / sqrt(var + eps) + beta is a
// per-output-channel affine map, so it folds into the weights and bias of the producer.
#include <cmath>
#include <functional>
#include <map>

#include "network.hpp"

namespace mpq {
namespace {

struct BnAffine {
  std::vector<float> scale, shift;  // y = scale * x + shift per channel
};

bool bn_affine(const Model& m, const OpNode& bn, BnAffine& out) {
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

// Initializer `name` copied under a fresh name if other nodes also read it.
std::string private_copy(Model& m, const std::string& name, const std::string& suffix,
                         const std::map<std::string, int>& uses) {
  if (uses.at(name) <= 1) return name;
  std::string fresh = name + suffix;
  while (m.initializers.count(fresh)) fresh += "_";
  m.initializers[fresh] = m.initializers.at(name);
  return fresh;
}

bool fold_into(Model& m, OpNode& p, const BnAffine& a, const std::map<std::string, int>& uses) {
  if (p.inputs.size() < 2 || !m.is_constant(p.inputs[1])) return false;
  if (p.inputs.size() > 2 && !p.inputs[2].empty() && !m.is_constant(p.inputs[2])) return false;
  const Tensor& w0 = m.initializers.at(p.inputs[1]);
  if (!w0.is_float() || w0.rank() < 2) return false;
  const auto c = static_cast<std::int64_t>(a.scale.size());
  std::int64_t cout = 0;
  // Index of the output channel for each weight element.
  std::function<std::int64_t(std::int64_t)> channel_of;
  if (p.op_type == "Conv") {
    cout = w0.shape[0];
    const std::int64_t per = w0.size() / cout;
    channel_of = [per](std::int64_t e) { return e / per; };
  } else if (p.op_type == "ConvTranspose") {
    const std::int64_t groups = p.attr_int("group", 1);
    const std::int64_t cin = w0.shape[0], cpg = w0.shape[1];
    cout = cpg * groups;
    const std::int64_t inner = w0.size() / (cin * cpg);
    const std::int64_t cin_pg = cin / groups;
    channel_of = [=](std::int64_t e) {
      const std::int64_t ci = e / (cpg * inner), j = (e / inner) % cpg;
      return (ci / cin_pg) * cpg + j;
    };
  } else if (p.op_type == "Gemm") {
    if (w0.rank() != 2) return false;
    const bool tb = p.attr_int("transB", 0) != 0;
    cout = tb ? w0.shape[0] : w0.shape[1];
    const std::int64_t cols = w0.shape[1];
    channel_of = [tb, cols](std::int64_t e) { return tb ? e / cols : e % cols; };
  } else {
    return false;
  }
  if (cout != c) return false;
  float alpha = 1.0f, beta = 1.0f;
  if (p.op_type == "Gemm") {
    alpha = p.attr_float("alpha", 1.0f);
    beta = p.attr_float("beta", 1.0f);
  }
  std::vector<float> bias(static_cast<std::size_t>(c), 0.0f);
  if (p.inputs.size() > 2 && !p.inputs[2].empty()) {
    const Tensor& b = m.initializers.at(p.inputs[2]);
    if (b.size() == c)
      for (std::int64_t k = 0; k < c; ++k) bias[k] = beta * b.f[k];
    else if (b.size() == 1)
      for (std::int64_t k = 0; k < c; ++k) bias[k] = beta * b.f[0];
    else
      return false;
  }
  const std::string wname = private_copy(m, p.inputs[1], "_bnfold", uses);
  Tensor& w = m.initializers.at(wname);
  for (std::int64_t e = 0; e < w.size(); ++e) w.f[e] *= alpha * a.scale[channel_of(e)];
  Tensor nb = Tensor::zeros({c});
  for (std::int64_t k = 0; k < c; ++k) nb.f[k] = bias[k] * a.scale[k] + a.shift[k];
  std::string bname = p.name.empty() ? p.outputs[0] : p.name;
  bname += "_bnfold_bias";
  while (m.initializers.count(bname)) bname += "_";
  m.initializers[bname] = std::move(nb);
  p.inputs[1] = wname;
  if (p.inputs.size() < 3) p.inputs.resize(3);
  p.inputs[2] = bname;
  if (p.op_type == "Gemm") {
    p.attrs["alpha"] = 1.0f;
    p.attrs["beta"] = 1.0f;
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
      BnAffine a;
      if (!bn_affine(m, bn, a)) continue;
      OpNode& p = m.nodes[pit->second];
      if (!fold_into(m, p, a, uses)) continue;
      p.outputs[0] = bn.outputs[0];
      m.nodes.erase(m.nodes.begin() + static_cast<std::ptrdiff_t>(k));
      ++folded;
      changed = true;
    }
  }
  m.drop_unused_initializers();  // the BN statistics and replaced weights
  return folded;
}

}  // namespace mpq
