#include "engine.hpp"

#include <map>

namespace mpq {

Result<Engine> Engine::create(const Network& net) {
  Engine e;
  e.net_ = &net;
  std::map<std::string, int> slot;
  auto add_slot = [&](const std::string& name, const Tensor* constant) {
    const int s = static_cast<int>(e.slot_names_.size());
    slot[name] = s;
    e.slot_names_.push_back(name);
    e.slots_.push_back(constant);
    return s;
  };
  for (const auto& [name, t] : net.model.initializers) add_slot(name, &t);
  for (const auto& in : net.model.inputs) e.input_slots_.push_back(add_slot(in.name, nullptr));
  for (std::size_t k : net.order) {
    const OpNode& n = net.node(k);
    Step st{find_op(n.op_type), k, {}, {}};
    if (!st.spec) return make_error("unsupported op " + n.label());
    for (const auto& in : n.inputs) {
      if (in.empty()) {
        st.in.push_back(-1);
        continue;
      }
      auto it = slot.find(in);
      if (it == slot.end()) return make_error(n.label() + ": input '" + in + "' is not defined");
      st.in.push_back(it->second);
    }
    for (const auto& out : n.outputs) st.out.push_back(out.empty() ? -1 : add_slot(out, nullptr));
    e.steps_.push_back(std::move(st));
  }
  for (const auto& out : net.model.outputs) {
    auto it = slot.find(out.name);
    if (it == slot.end()) return make_error("graph output '" + out.name + "' is not computed");
    e.output_slots_.push_back(it->second);
  }
  e.owned_.resize(e.slots_.size());
  e.hooks_.resize(e.slots_.size());
  e.slot_of_ = std::move(slot);
  for (std::size_t s = 0; s < e.slots_.size(); ++s)
    if (!e.slots_[s]) e.slots_[s] = &e.owned_[s];
  return e;
}

Status Engine::set_inputs(std::span<const Tensor> inputs) {
  const auto& model = net_->model;
  if (inputs.size() != input_slots_.size())
    return make_error("the model has " + std::to_string(input_slots_.size()) + " inputs, but " +
                      std::to_string(inputs.size()) + " were given");
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const ValueInfo& vi = model.inputs[k];
    if (vi.has_shape) {
      bool match = vi.dims.size() == inputs[k].shape.size();
      for (std::size_t d = 0; match && d < vi.dims.size(); ++d)
        match = vi.dims[d] < 0 || vi.dims[d] == inputs[k].shape[d];
      if (!match)
        return make_error("input '" + vi.name + "' has shape " + shape_str(inputs[k].shape) +
                          ", but the model expects " + shape_str(vi.dims));
    }
    const auto s = static_cast<std::size_t>(input_slots_[k]);
    owned_[s] = inputs[k];
    if (hooks_[s]) hooks_[s](owned_[s]);
  }
  return Ok{};
}

Status Engine::run_steps(std::size_t begin, std::size_t end) {
  std::vector<const Tensor*> in_ptrs;
  std::vector<Tensor> outs;
  for (std::size_t i = begin; i < end && i < steps_.size(); ++i) {
    const Step& st = steps_[i];
    const OpNode& n = net_->node(st.node);
    in_ptrs.clear();
    for (int s : st.in) in_ptrs.push_back(s < 0 ? nullptr : slots_[static_cast<std::size_t>(s)]);
    outs.resize(st.out.size());
    for (std::size_t k = 0; k < st.out.size(); ++k)
      outs[k] = st.out[k] < 0 ? Tensor{} : std::move(owned_[static_cast<std::size_t>(st.out[k])]);
    try {
      st.spec->run(OpContext{n, net_->model.opset}, in_ptrs, outs);
    } catch (const OpError& err) {
      return make_error(n.label() + ": " + err.what());
    } catch (const std::exception& err) {
      return make_error(n.label() + ": " + err.what());
    }
    for (std::size_t k = 0; k < st.out.size(); ++k) {
      if (st.out[k] < 0) continue;
      const auto s = static_cast<std::size_t>(st.out[k]);
      owned_[s] = std::move(outs[k]);
      if (hooks_[s]) hooks_[s](owned_[s]);
    }
  }
  return Ok{};
}

std::vector<Tensor> Engine::outputs() const {
  std::vector<Tensor> result;
  for (int s : output_slots_) result.push_back(*slots_[static_cast<std::size_t>(s)]);
  return result;
}

Result<std::vector<Tensor>> Engine::run(std::span<const Tensor> inputs) {
  if (auto st = set_inputs(inputs); !st) return st.error();
  if (auto st = run_steps(0, steps_.size()); !st) return st.error();
  return outputs();
}

std::size_t Engine::producer_step(const std::string& tensor) const {
  for (std::size_t i = 0; i < steps_.size(); ++i)
    for (int s : steps_[i].out)
      if (s >= 0 && slot_names_[static_cast<std::size_t>(s)] == tensor) return i;
  return 0;
}

std::size_t Engine::first_reader_step(const std::string& tensor) const {
  auto it = slot_of_.find(tensor);
  if (it == slot_of_.end()) return steps_.size();
  for (std::size_t i = 0; i < steps_.size(); ++i)
    for (int s : steps_[i].in)
      if (s == it->second) return i;
  return steps_.size();
}

Status Engine::set_hook(const std::string& tensor, TensorHook hook) {
  auto it = slot_of_.find(tensor);
  if (it == slot_of_.end() || net_->model.is_constant(tensor))
    return make_error("no computed tensor '" + tensor + "' in the network");
  hooks_[static_cast<std::size_t>(it->second)] = std::move(hook);
  return Ok{};
}

void Engine::clear_hooks() {
  for (auto& h : hooks_) h = nullptr;
}

Status Engine::set_constant(const std::string& name, const Tensor* t) {
  auto it = net_->model.initializers.find(name);
  if (it == net_->model.initializers.end()) return make_error("no constant '" + name + "'");
  slots_[static_cast<std::size_t>(slot_of_.at(name))] = t ? t : &it->second;
  return Ok{};
}

void Engine::reset_constants() {
  for (const auto& [name, t] : net_->model.initializers)
    slots_[static_cast<std::size_t>(slot_of_.at(name))] = &t;
}

std::vector<std::pair<std::string, const Tensor*>> Engine::values() const {
  std::vector<std::pair<std::string, const Tensor*>> v;
  for (std::size_t s = 0; s < slots_.size(); ++s) v.emplace_back(slot_names_[s], slots_[s]);
  return v;
}

void Engine::record_shapes(Network& net) const {
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    net.shapes[slot_names_[s]] = slots_[s]->shape;
    net.dtypes[slot_names_[s]] = slots_[s]->dtype;
  }
}

}  // namespace mpq
