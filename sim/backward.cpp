#include "backward.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mpq {

Result<Backward> Backward::create(const Network& net) {
  auto engine = Engine::create(net);
  if (!engine) return engine.error();
  engine->set_fusion(false);
  Backward b(std::move(*engine));
  b.net_ = &net;
  const Engine& e = b.engine_;
  const std::size_t slots = e.slots_.size();
  const auto is_float = [&](int s) {
    const std::string& name = e.slot_names_[static_cast<std::size_t>(s)];
    auto c = net.model.initializers.find(name);
    if (c != net.model.initializers.end()) return c->second.is_float();
    auto d = net.dtypes.find(name);
    return d == net.dtypes.end() || d->second == DType::Float32;
  };
  const auto passes = [&](const Engine::Step& st, std::size_t k) {
    const GradientUse& g = st.spec->traits.gradient;
    return !g.none && !(k < 8 && (g.inert_inputs >> k) & 1);
  };
  // Forward: which values depend on an input or a float constant through gradient-passing ops.
  std::vector<char> depends(slots, 0);
  for (std::size_t s = 0; s < slots; ++s)
    if (net.model.is_constant(e.slot_names_[s]) && is_float(static_cast<int>(s))) depends[s] = 1;
  for (int s : e.input_slots_)
    if (is_float(s)) depends[static_cast<std::size_t>(s)] = 1;
  for (const Engine::Step& st : e.steps_) {
    bool any = false;
    for (std::size_t k = 0; k < st.in.size(); ++k)
      any |= st.in[k] >= 0 && depends[static_cast<std::size_t>(st.in[k])] && passes(st, k);
    for (int s : st.out)
      if (s >= 0 && any && is_float(s)) depends[static_cast<std::size_t>(s)] = 1;
  }
  // Backward: which of those an output depends on.
  b.active_.assign(slots, 0);
  for (int s : e.output_slots_)
    b.active_[static_cast<std::size_t>(s)] = depends[static_cast<std::size_t>(s)];
  b.step_active_.assign(e.steps_.size(), 0);
  for (std::size_t i = e.steps_.size(); i-- > 0;) {
    const Engine::Step& st = e.steps_[i];
    const bool reached = std::any_of(st.out.begin(), st.out.end(), [&](int s) {
      return s >= 0 && b.active_[static_cast<std::size_t>(s)];
    });
    if (!reached) continue;
    bool feeds = false;
    for (std::size_t k = 0; k < st.in.size(); ++k) {
      const int s = st.in[k];
      if (s < 0 || !depends[static_cast<std::size_t>(s)] || !passes(st, k)) continue;
      b.active_[static_cast<std::size_t>(s)] = 1;
      feeds = true;
    }
    if (!feeds) continue;
    b.step_active_[i] = 1;
    if (!st.spec->backward)
      return make_error("no backward rule for op " + net.node(st.node).op_type + " (node " +
                        net.node(st.node).label() +
                        "): gradients cannot be taken through this network");
  }
  b.grads_.resize(slots);
  b.pass_.resize(slots);
  return b;
}

Result<std::vector<Tensor>> Backward::forward(std::span<const Tensor> inputs) {
  for (Tensor& g : grads_) g = Tensor{};
  return engine_.run(inputs);
}

const Tensor* Backward::grad(const std::string& value) const {
  auto it = engine_.slot_of_.find(value);
  if (it == engine_.slot_of_.end()) return nullptr;
  const Tensor& g = grads_[static_cast<std::size_t>(it->second)];
  return g.shape.empty() && g.f.empty() ? nullptr : &g;
}

const Tensor* Backward::value(const std::string& name) const {
  auto it = engine_.slot_of_.find(name);
  return it == engine_.slot_of_.end() ? nullptr
                                      : engine_.slots_[static_cast<std::size_t>(it->second)];
}

bool Backward::on_gradient_path(const std::string& value) const {
  auto it = engine_.slot_of_.find(value);
  return it != engine_.slot_of_.end() && active_[static_cast<std::size_t>(it->second)];
}

Status Backward::set_quantizer(const std::string& value, Engine::ElementwiseHook quantize, float lo,
                               float hi) {
  auto it = engine_.slot_of_.find(value);
  if (it == engine_.slot_of_.end()) return make_error("no value '" + value + "' in the network");
  const auto s = static_cast<std::size_t>(it->second);
  pass_[s].clear();
  if (!quantize) return engine_.set_hook(value, nullptr);
  std::vector<char>* pass = &pass_[s];
  return engine_.set_hook(value, [pass, q = std::move(quantize), lo, hi](Tensor& t) {
    pass->resize(t.f.size());
    for (std::size_t k = 0; k < t.f.size(); ++k) (*pass)[k] = t.f[k] >= lo && t.f[k] <= hi ? 1 : 0;
    q(std::span<float>(t.f.data(), t.f.size()));
  });
}

Status Backward::set_quantized_constant(const std::string& name, const Tensor* quantized, float lo,
                                        float hi) {
  auto it = net_->model.initializers.find(name);
  if (it == net_->model.initializers.end()) return make_error("no constant '" + name + "'");
  const auto s = static_cast<std::size_t>(engine_.slot_of_.at(name));
  pass_[s].clear();
  if (quantized) {
    const FloatBuffer& w = it->second.f;
    pass_[s].resize(w.size());
    for (std::size_t k = 0; k < w.size(); ++k) pass_[s][k] = w[k] >= lo && w[k] <= hi ? 1 : 0;
  }
  return engine_.set_constant(name, quantized);
}

Status Backward::run_rule(std::size_t i) {
  const Engine::Step& st = engine_.steps_[i];
  const OpNode& node = net_->node(st.node);
  std::vector<const Tensor*> ins, outs, out_grads;
  std::vector<Tensor> zeros(st.out.size());
  for (int s : st.in) ins.push_back(s < 0 ? nullptr : engine_.slots_[static_cast<std::size_t>(s)]);
  for (std::size_t k = 0; k < st.out.size(); ++k) {
    const int s = st.out[k];
    const Tensor* v = s < 0 ? nullptr : engine_.slots_[static_cast<std::size_t>(s)];
    outs.push_back(v);
    if (!v || !v->is_float()) {
      out_grads.push_back(nullptr);
      continue;
    }
    const Tensor& g = grads_[static_cast<std::size_t>(s)];
    if (g.f.empty() && v->size() > 0) {
      zeros[k] = Tensor::zeros(v->shape);
      out_grads.push_back(&zeros[k]);
    } else {
      out_grads.push_back(&g);
    }
  }
  scratch_.resize(std::max(scratch_.size(), st.in.size()));
  std::vector<Tensor*> in_grads;
  for (int s : st.in) {
    const bool want = s >= 0 && active_[static_cast<std::size_t>(s)];
    in_grads.push_back(want ? &scratch_[in_grads.size()] : nullptr);
  }
  const GradientUse& use = st.spec->traits.gradient;
  for (std::size_t k = 0; k < in_grads.size() && k < 8; ++k)
    if ((use.inert_inputs >> k) & 1) in_grads[k] = nullptr;
  try {
    st.spec->backward(GradContext{node, net_->model.opset, ins, outs, out_grads, in_grads});
  } catch (const std::exception& err) {
    return make_error(node.label() + " (backward): " + err.what());
  }
  for (std::size_t k = 0; k < in_grads.size(); ++k) {
    if (!in_grads[k]) continue;
    const auto s = static_cast<std::size_t>(st.in[k]);
    Tensor& g = *in_grads[k];
    if (g.shape != ins[k]->shape || g.f.size() != ins[k]->f.size())
      return make_error(node.label() + " (backward): gradient of input " + std::to_string(k) +
                        " has shape " + shape_str(g.shape) + ", the input " +
                        shape_str(ins[k]->shape));
    Tensor& acc = grads_[s];
    if (acc.f.empty()) {
      acc = std::move(g);
    } else {
      for (std::size_t e = 0; e < acc.f.size(); ++e) acc.f[e] += g.f[e];
    }
  }
  return Ok{};
}

Status Backward::backward(std::span<const Tensor> output_grads) {
  const auto& outs = engine_.output_slots_;
  if (output_grads.size() != outs.size())
    return make_error("the model has " + std::to_string(outs.size()) + " outputs, but " +
                      std::to_string(output_grads.size()) + " output gradients were given");
  for (Tensor& g : grads_) g = Tensor{};
  for (std::size_t k = 0; k < outs.size(); ++k) {
    if (output_grads[k].f.empty()) continue;
    const auto s = static_cast<std::size_t>(outs[k]);
    if (output_grads[k].shape != engine_.slots_[s]->shape)
      return make_error("the gradient of output " + engine_.slot_names_[s] + " has shape " +
                        shape_str(output_grads[k].shape) + ", the output " +
                        shape_str(engine_.slots_[s]->shape));
    if (!active_[s]) continue;
    if (grads_[s].f.empty())
      grads_[s] = output_grads[k];
    else
      for (std::size_t e = 0; e < grads_[s].f.size(); ++e) grads_[s].f[e] += output_grads[k].f[e];
  }
  for (std::size_t i = engine_.steps_.size(); i-- > 0;) {
    if (!step_active_[i]) continue;
    // Straight through a quantizer on the step's outputs: zero outside its clipping range.
    for (int s : engine_.steps_[i].out) {
      if (s < 0) continue;
      const auto& pass = pass_[static_cast<std::size_t>(s)];
      Tensor& g = grads_[static_cast<std::size_t>(s)];
      if (!pass.empty() && g.f.size() == pass.size())
        for (std::size_t e = 0; e < pass.size(); ++e)
          if (!pass[e]) g.f[e] = 0.0f;
    }
    if (auto r = run_rule(i); !r) return r;
  }
  // Weights and inputs under a quantizer: masked likewise.
  for (std::size_t s = 0; s < grads_.size(); ++s) {
    if (engine_.producer_[s] >= 0 || pass_[s].empty() || grads_[s].f.size() != pass_[s].size())
      continue;
    for (std::size_t e = 0; e < pass_[s].size(); ++e)
      if (!pass_[s][e]) grads_[s].f[e] = 0.0f;
  }
  return Ok{};
}

Result<CrossEntropy> cross_entropy(const Tensor& logits, std::span<const std::int64_t> labels) {
  if (!logits.is_float() || logits.rank() != 2)
    return make_error("cross-entropy needs [N, C] float logits, got " + shape_str(logits.shape));
  const std::int64_t n = logits.shape[0], c = logits.shape[1];
  if (static_cast<std::int64_t>(labels.size()) != n)
    return make_error("cross-entropy: " + std::to_string(labels.size()) + " labels for " +
                      std::to_string(n) + " samples");
  CrossEntropy ce;
  ce.grad = Tensor::zeros(logits.shape);
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int64_t label = labels[static_cast<std::size_t>(r)];
    if (label < 0 || label >= c)
      return make_error("cross-entropy: label " + std::to_string(label) + " is outside [0, " +
                        std::to_string(c) + ")");
    const float* z = logits.f.data() + r * c;
    float* g = ce.grad.f.data() + r * c;
    const double m = *std::max_element(z, z + c);
    double sum = 0;
    for (std::int64_t k = 0; k < c; ++k) sum += std::exp(double(z[k]) - m);
    for (std::int64_t k = 0; k < c; ++k)
      g[k] = static_cast<float>(std::exp(double(z[k]) - m) / sum - (k == label ? 1.0 : 0.0));
    ce.loss += std::log(sum) + m - z[label];
  }
  return ce;
}

std::vector<std::int64_t> predicted_labels(const Tensor& logits) {
  std::vector<std::int64_t> labels;
  if (logits.rank() != 2) return labels;
  const std::int64_t n = logits.shape[0], c = logits.shape[1];
  for (std::int64_t r = 0; r < n; ++r) {
    const float* z = logits.f.data() + r * c;
    labels.push_back(std::max_element(z, z + c) - z);
  }
  return labels;
}

}  // namespace mpq
