#include "channel_affine.hpp"

#include <cassert>
#include <functional>

namespace mpq {
namespace {

// Index of the output channel of each weight element, for the ops foldable_channels accepts.
std::function<std::int64_t(std::int64_t)> channel_of(const OpNode& p, const Shape& w) {
  if (p.op_type == "Conv") {
    const std::int64_t per = numel(w) / w[0];
    return [per](std::int64_t e) { return e / per; };
  }
  if (p.op_type == "ConvTranspose") {  // W is [Cin, Cout / group, k...]
    const std::int64_t groups = p.attr_int("group", 1);
    const std::int64_t cin = w[0], cpg = w[1];
    const std::int64_t inner = numel(w) / (cin * cpg);
    const std::int64_t cin_pg = cin / groups;
    return [=](std::int64_t e) {
      const std::int64_t ci = e / (cpg * inner), j = (e / inner) % cpg;
      return (ci / cin_pg) * cpg + j;
    };
  }
  const bool rows = p.op_type == "Gemm" && p.attr_int("transB", 0) != 0;
  const std::int64_t cols = w[1];
  return [rows, cols](std::int64_t e) { return rows ? e / cols : e % cols; };
}

}  // namespace

bool ChannelAffine::shifts() const {
  for (float s : shift)
    if (s != 0.0f) return true;
  return false;
}

std::string fresh_initializer_name(const Model& m, std::string base) {
  while (m.initializers.count(base)) base += "_";
  return base;
}

std::optional<std::int64_t> foldable_channels(const Model& m, const OpNode& p) {
  if (p.inputs.size() < 2 || !m.is_constant(p.inputs[1]) || p.outputs.size() != 1) return {};
  const Tensor& w = m.initializers.at(p.inputs[1]);
  if (!w.is_float() || w.rank() < 2 || w.size() == 0) return {};
  std::int64_t c = 0;
  if (p.op_type == "Conv")
    c = w.shape[0];
  else if (p.op_type == "ConvTranspose")
    c = w.shape[1] * p.attr_int("group", 1);
  else if (p.op_type == "Gemm" && w.rank() == 2)
    c = p.attr_int("transB", 0) ? w.shape[0] : w.shape[1];
  else if (p.op_type == "MatMul" && w.rank() == 2)
    c = w.shape[1];
  else
    return {};
  if (p.op_type != "MatMul" && p.has_input(2)) {
    if (!m.is_constant(p.inputs[2])) return {};
    const Tensor& b = m.initializers.at(p.inputs[2]);
    if (!b.is_float() || (b.size() != c && b.size() != 1)) return {};
  }
  return c;
}

FoldedAffine fold_channel_affine(const Model& m, const OpNode& p, const ChannelAffine& a,
                                 const std::map<std::string, int>& uses,
                                 const std::string& suffix) {
  const auto c = static_cast<std::int64_t>(a.scale.size());
  assert(foldable_channels(m, p) == c && a.shift.size() == a.scale.size());
  FoldedAffine out{p, {}};
  OpNode& q = out.node;
  // Float arithmetic in this order: BatchNorm folding has always computed it so, and the
  // bundled models' prepared weights stay bit for bit what they were.
  float alpha = 1.0f, beta = 1.0f;
  if (p.op_type == "Gemm") {
    alpha = p.attr_float("alpha", 1.0f);
    beta = p.attr_float("beta", 1.0f);
  }
  std::string wname = p.inputs[1];
  if (auto u = uses.find(wname); u != uses.end() && u->second > 1)
    wname = fresh_initializer_name(m, wname + "_" + suffix);
  Tensor w = m.initializers.at(p.inputs[1]);
  const auto channel = channel_of(p, w.shape);
  for (std::int64_t e = 0; e < w.size(); ++e)
    w.f[e] *= alpha * a.scale[static_cast<std::size_t>(channel(e))];
  out.initializers[wname] = std::move(w);
  q.inputs[1] = wname;
  if (p.op_type == "MatMul") return out;
  std::vector<float> bias(static_cast<std::size_t>(c), 0.0f);
  if (p.has_input(2)) {
    const Tensor& b = m.initializers.at(p.inputs[2]);
    for (std::int64_t k = 0; k < c; ++k) bias[k] = beta * b.f[b.size() == c ? k : 0];
  }
  Tensor nb = Tensor::zeros({c});
  for (std::int64_t k = 0; k < c; ++k) nb.f[k] = bias[k] * a.scale[k] + a.shift[k];
  const std::string base = p.name.empty() ? p.outputs[0] : p.name;
  const std::string bname = fresh_initializer_name(m, base + "_" + suffix + "_bias");
  out.initializers[bname] = std::move(nb);
  if (q.inputs.size() < 3) q.inputs.resize(3);
  q.inputs[2] = bname;
  if (p.op_type == "Gemm") {
    q.attrs["alpha"] = 1.0f;
    q.attrs["beta"] = 1.0f;
  }
  return out;
}

}  // namespace mpq
