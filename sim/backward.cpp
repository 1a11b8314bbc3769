#include "backward.hpp"

#include "ops/conv_common.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace mpq {
namespace {

// acc += g elementwise: each element on its own, so the split over threads changes nothing.
void add_into(FloatBuffer& acc, const FloatBuffer& g) {
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, acc.size(), 1 << 15),
                    [&](const tbb::blocked_range<std::size_t>& r) {
                      for (std::size_t e = r.begin(); e != r.end(); ++e) acc[e] += g[e];
                    });
}

}  // namespace

Result<Backward> Backward::create(const Network& net, std::span<const std::string> wanted) {
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
  if (wanted.empty()) {
    for (std::size_t s = 0; s < slots; ++s)
      if (net.model.is_constant(e.slot_names_[s]) && is_float(static_cast<int>(s))) depends[s] = 1;
    for (int s : e.input_slots_)
      if (is_float(s)) depends[static_cast<std::size_t>(s)] = 1;
  }
  for (const std::string& name : wanted) {
    auto it = e.slot_of_.find(name);
    if (it == e.slot_of_.end()) return make_error("no value '" + name + "' in the network");
    if (is_float(it->second)) depends[static_cast<std::size_t>(it->second)] = 1;
  }
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
  b.has_grad_.assign(slots, 0);
  b.pass_.resize(slots);
  return b;
}

Result<std::vector<Tensor>> Backward::forward(std::span<const Tensor> inputs) {
  std::fill(has_grad_.begin(), has_grad_.end(), 0);
  return engine_.run(inputs);
}

const Tensor* Backward::grad(const std::string& value) const {
  auto it = engine_.slot_of_.find(value);
  if (it == engine_.slot_of_.end()) return nullptr;
  const auto s = static_cast<std::size_t>(it->second);
  return has_grad_[s] ? &grads_[s] : nullptr;
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
  for (int s : st.in) ins.push_back(s < 0 ? nullptr : engine_.slots_[static_cast<std::size_t>(s)]);
  for (int s : st.out) {
    const Tensor* v = s < 0 ? nullptr : engine_.slots_[static_cast<std::size_t>(s)];
    outs.push_back(v);
    if (!v || !v->is_float()) {
      out_grads.push_back(nullptr);
      continue;
    }
    // An output no gradient reached: zeros, in the slot's own (unmarked) buffer.
    Tensor& g = grads_[static_cast<std::size_t>(s)];
    if (!has_grad_[static_cast<std::size_t>(s)]) {
      g.dtype = DType::Float32;
      g.allocate(v->shape);
    }
    out_grads.push_back(&g);
  }
  scratch_.resize(std::max(scratch_.size(), st.in.size()));
  const GradientUse& use = st.spec->traits.gradient;
  std::vector<Tensor*> in_grads;
  for (std::size_t k = 0; k < st.in.size(); ++k) {
    const int s = st.in[k];
    const bool inert = k < 8 && (use.inert_inputs >> k) & 1;
    const bool want = s >= 0 && active_[static_cast<std::size_t>(s)] && !inert;
    if (!want) {
      in_grads.push_back(nullptr);
      continue;
    }
    // The first gradient of a slot is written in place (its buffer from the last pass has the
    // right size); further ones go through a scratch buffer and are added.
    const auto slot = static_cast<std::size_t>(s);
    const bool first = !has_grad_[slot] && std::count(st.in.begin(), st.in.end(), s) == 1;
    in_grads.push_back(first ? &grads_[slot] : &scratch_[k]);
  }
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
    if (&g == &acc) {
      has_grad_[s] = 1;
    } else if (!has_grad_[s]) {
      acc.dtype = DType::Float32;
      acc.shape = g.shape;
      acc.f.assign(g.f.begin(), g.f.end());
      has_grad_[s] = 1;
    } else {
      add_into(acc.f, g.f);
    }
  }
  return Ok{};
}

Status Backward::backward(std::span<const Tensor> output_grads) {
  const auto& outs = engine_.output_slots_;
  if (output_grads.size() != outs.size())
    return make_error("the model has " + std::to_string(outs.size()) + " outputs, but " +
                      std::to_string(output_grads.size()) + " output gradients were given");
  std::fill(has_grad_.begin(), has_grad_.end(), 0);
  for (std::size_t k = 0; k < outs.size(); ++k) {
    if (output_grads[k].f.empty()) continue;
    const auto s = static_cast<std::size_t>(outs[k]);
    if (output_grads[k].shape != engine_.slots_[s]->shape)
      return make_error("the gradient of output " + engine_.slot_names_[s] + " has shape " +
                        shape_str(output_grads[k].shape) + ", the output " +
                        shape_str(engine_.slots_[s]->shape));
    if (!active_[s]) continue;
    if (!has_grad_[s]) {
      grads_[s].dtype = DType::Float32;
      grads_[s].shape = output_grads[k].shape;
      grads_[s].f.assign(output_grads[k].f.begin(), output_grads[k].f.end());
      has_grad_[s] = 1;
    } else {
      add_into(grads_[s].f, output_grads[k].f);
    }
  }
  for (std::size_t i = engine_.steps_.size(); i-- > 0;) {
    if (!step_active_[i]) continue;
    // Straight through a quantizer on the step's outputs: zero outside its clipping range.
    for (int s : engine_.steps_[i].out) {
      if (s < 0) continue;
      const auto& pass = pass_[static_cast<std::size_t>(s)];
      Tensor& g = grads_[static_cast<std::size_t>(s)];
      if (has_grad_[static_cast<std::size_t>(s)] && !pass.empty() && g.f.size() == pass.size())
        for (std::size_t e = 0; e < pass.size(); ++e)
          if (!pass[e]) g.f[e] = 0.0f;
    }
    const auto t0 =
        profile_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    if (auto r = run_rule(i); !r) return r;
    if (profile_)
      (*profile_)[i] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  // Weights and inputs under a quantizer: masked likewise.
  for (std::size_t s = 0; s < grads_.size(); ++s) {
    if (engine_.producer_[s] >= 0 || !has_grad_[s] || pass_[s].empty() ||
        grads_[s].f.size() != pass_[s].size())
      continue;
    for (std::size_t e = 0; e < pass_[s].size(); ++e)
      if (!pass_[s][e]) grads_[s].f[e] = 0.0f;
  }
  return Ok{};
}

std::optional<Tensor> per_sample_weight_grads(const OpNode& node,
                                              std::span<const Tensor* const> inputs,
                                              const Tensor& out_grad, std::size_t k) {
  if (node.op_type != "Conv" || k != 1 || inputs.size() < 2 || !inputs[0] || !inputs[1])
    return std::nullopt;
  const Tensor& x = *inputs[0];
  const Tensor& w = *inputs[1];
  if (!x.is_float() || !w.is_float() || x.rank() < 3) return std::nullopt;
  const ConvGeometry g = conv_geometry(node, x.shape, w.shape);
  if (numel(g.y_shape()) != out_grad.size()) return std::nullopt;
  Tensor dw;
  Shape shape{x.shape[0]};
  shape.insert(shape.end(), w.shape.begin(), w.shape.end());
  dw.allocate(std::move(shape));
  conv_weight_grad_per_image(g, x.f.data(), out_grad.f.data(), dw.f.data());
  return dw;
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
