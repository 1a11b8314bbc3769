#include "engine.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <tuple>

#include "sim/ops/broadcast.hpp"
#include "sim/ops/gelu_chain.hpp"

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
  const int num_constants = static_cast<int>(e.slot_names_.size());  // slots [0, num_constants)
  for (const auto& in : net.model.inputs) e.input_slots_.push_back(add_slot(in.name, nullptr));
  for (std::size_t k : net.order) {
    const OpNode& n = net.node(k);
    Step st;
    st.spec = find_op(n.op_type);
    st.node = k;
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
  e.elementwise_.resize(e.slots_.size());
  e.stale_.assign(e.slots_.size(), 0);
  e.derived_.resize(e.steps_.size());
  e.keeps_derived_.assign(e.steps_.size(), 0);
  for (std::size_t i = 0; i < e.steps_.size(); ++i) {
    const std::vector<int>& in = e.steps_[i].in;
    e.keeps_derived_[i] = in.size() > 1 && std::all_of(in.begin() + 1, in.end(), [&](int s) {
                            return s < num_constants;  // -1: omitted
                          });
  }
  e.plan_reuse();
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

// The whole GELU chain runs in this call and its intermediate values have no hooks other than
// elementwise ones (which the chain applies as it goes).
bool Engine::gelu_here(std::size_t i, std::size_t end) const {
  const Step& st = steps_[i];
  if (!fusion_ || st.folds.gelu.empty() || static_cast<std::size_t>(st.folds.gelu.back()) >= end)
    return false;
  if (!foldable(st.out[0])) return false;
  for (std::size_t k = 0; k + 1 < st.folds.gelu.size(); ++k)
    if (!foldable(steps_[static_cast<std::size_t>(st.folds.gelu[k])].out[0])) return false;
  return true;
}

Status Engine::run_gelu(std::size_t i) {
  const Step& st = steps_[i];
  const Step& last = steps_[static_cast<std::size_t>(st.folds.gelu.back())];
  const auto y = static_cast<std::size_t>(last.out[0]);
  const Tensor& x = *slots_[static_cast<std::size_t>(st.in[0])];
  if (!x.is_float())
    return make_error(net_->node(st.node).label() + ": expects a float input, got " +
                      dtype_name(x.dtype));
  // Elementwise hooks of the four intermediate values, in chain order.
  const auto hook_of = [&](int step) -> const ElementwiseHook* {
    const auto s = static_cast<std::size_t>(steps_[static_cast<std::size_t>(step)].out[0]);
    return elementwise_[s] ? &elementwise_[s] : nullptr;
  };
  const std::array<const ElementwiseHook*, 4> hooks{
      hook_of(static_cast<int>(i)), hook_of(st.folds.gelu[0]), hook_of(st.folds.gelu[1]),
      hook_of(st.folds.gelu[2])};
  ops::gelu_erf_chain(x, st.folds.gelu_c, st.folds.gelu_one, st.folds.gelu_half, owned_[y], hooks);
  stale_[y] = 0;
  if (hooks_[y]) hooks_[y](owned_[y]);
  stale_[static_cast<std::size_t>(st.out[0])] = 1;
  for (std::size_t k = 0; k + 1 < st.folds.gelu.size(); ++k)
    stale_[static_cast<std::size_t>(steps_[static_cast<std::size_t>(st.folds.gelu[k])].out[0])] = 1;
  return Ok{};
}

bool Engine::fused_here(std::size_t i, std::size_t end) const {
  const Step& st = steps_[i];
  if (!fusion_ || st.folds.fusable_next < 0 ||
      static_cast<std::size_t>(st.folds.fusable_next) >= end)
    return false;
  // A bias fold applies an elementwise hook of the product before adding the bias; a clamp
  // fold has nowhere to apply one.
  return st.folds.bias_slot >= 0 ? foldable(st.out[0])
                                 : !hooks_[static_cast<std::size_t>(st.out[0])];
}

// Transpose step i folds into the MatMul reading its output: both run in this call and no hook
// watches the transposed value.
bool Engine::transpose_folds_here(std::size_t i, std::size_t end) const {
  const Step& st = steps_[i];
  if (!fusion_ || st.folds.transpose_of < 0 ||
      static_cast<std::size_t>(st.folds.transpose_of) >= end)
    return false;
  if (steps_[static_cast<std::size_t>(st.folds.transpose_of)].folds.out_transpose ==
      static_cast<int>(i))
    return false;  // it transposes the MatMul's output (out_transposed_here)
  return !hooks_[static_cast<std::size_t>(st.out[0])];
}

// MatMul step i writes its result through the Transpose reading it: both run in this call and
// no hook watches the MatMul's own output.
bool Engine::out_transposed_here(std::size_t i, std::size_t end) const {
  const Step& st = steps_[i];
  return fusion_ && st.folds.out_transpose >= 0 &&
         static_cast<std::size_t>(st.folds.out_transpose) < end &&
         !hooks_[static_cast<std::size_t>(st.out[0])];
}

// A Conv folds its residual Add, and the Add's folded Relu/Clip too.
bool Engine::chained_here(std::size_t i, std::size_t end) const {
  const Step& st = steps_[i];
  return st.folds.residual_slot >= 0 &&
         fused_here(static_cast<std::size_t>(st.folds.fusable_next), end);
}

// A Conv whose Relu/Clip folds (fused_here) folds the MaxPool after it too, unless a hook
// watches the Relu/Clip's output.
bool Engine::pooled_here(std::size_t i, std::size_t end) const {
  const Step& st = steps_[i];
  if (st.folds.max_pool < 0 || static_cast<std::size_t>(st.folds.max_pool) >= end) return false;
  const Step& clamp = steps_[static_cast<std::size_t>(st.folds.fusable_next)];
  return !hooks_[static_cast<std::size_t>(clamp.out[0])];
}

Status Engine::run_step(std::size_t i, const ActiveFolds& active) {
  const Step& st = steps_[i];
  const StepFolds& plan = st.folds;
  const OpNode& n = net_->node(st.node);
  const Step* add =
      active.fuse && active.chain ? &steps_[static_cast<std::size_t>(plan.fusable_next)] : nullptr;
  const Step* reader =
      active.fuse
          ? &steps_[static_cast<std::size_t>(add ? add->folds.fusable_next : plan.fusable_next)]
          : nullptr;
  in_ptrs_.clear();
  for (int s : st.in) in_ptrs_.push_back(s < 0 ? nullptr : slots_[static_cast<std::size_t>(s)]);
  OutputFolds folds;
  // An input whose Transpose was skipped (folded_) is read from the Transpose's own input.
  for (std::size_t k = 0; active.in_transposes && k < 2; ++k) {
    const int t = plan.in_transpose[k];
    if (t < 0 || !folded_[static_cast<std::size_t>(t)]) continue;
    const Step& tr = steps_[static_cast<std::size_t>(t)];
    in_ptrs_[k] = slots_[static_cast<std::size_t>(tr.in[0])];
    folds.in_perm[k] = &tr.folds.perm;
  }
  const Step* out_tr =
      active.out_transpose ? &steps_[static_cast<std::size_t>(plan.out_transpose)] : nullptr;
  // A fused step writes straight into its reader's output slot (or the folded MaxPool's, or the
  // folded Transpose's).
  const Step* pool_step = active.pool ? &steps_[static_cast<std::size_t>(plan.max_pool)] : nullptr;
  const std::vector<int>& out_slots = pool_step ? pool_step->out
                                      : reader  ? reader->out
                                      : out_tr  ? out_tr->out
                                                : st.out;
  outs_.resize(out_slots.size());
  for (std::size_t k = 0; k < out_slots.size(); ++k)
    outs_[k] =
        out_slots[k] < 0 ? Tensor{} : std::move(owned_[static_cast<std::size_t>(out_slots[k])]);
  // A kernel that can applies the final output's elementwise hook as it stores (one pass less).
  int hooked_in_kernel = -1;
  if (fusion_ && st.spec->applies_output_hook && out_slots.size() == 1 && out_slots[0] >= 0 &&
      elementwise_[static_cast<std::size_t>(out_slots[0])])
    hooked_in_kernel = out_slots[0];
  try {
    if (reader && plan.bias_slot >= 0) {
      const Tensor& b = *slots_[static_cast<std::size_t>(plan.bias_slot)];
      folds.out_bias = b.f.data();
      folds.out_bias_len = b.size();
      const auto own = static_cast<std::size_t>(st.out[0]);
      if (elementwise_[own]) folds.before_bias = &elementwise_[own];
    } else if (reader && plan.scale_slot >= 0) {
      folds.out_scale = slots_[static_cast<std::size_t>(plan.scale_slot)]->f.data();
    } else if (reader && plan.residual_slot >= 0) {
      folds.out_residual = slots_[static_cast<std::size_t>(plan.residual_slot)]->f.data();
      if (add) std::tie(folds.act_min, folds.act_max) = clamp_of(*reader);
    } else if (reader) {
      std::tie(folds.act_min, folds.act_max) = clamp_of(*reader);
    }
    folds.out_max_pool = pool_step != nullptr;
    if (out_tr) folds.out_perm = &out_tr->folds.perm;
    OpContext ctx{n, net_->model.opset, folds};
    if (hooked_in_kernel >= 0)
      ctx.output_hook = &elementwise_[static_cast<std::size_t>(hooked_in_kernel)];
    if (active.donate) ctx.reusable_input = &owned_[static_cast<std::size_t>(plan.donor)];
    if (keeps_derived_[i]) ctx.derived = &derived_[i];
    st.spec->run(ctx, in_ptrs_, outs_);
  } catch (const std::exception& err) {
    return make_error(
        (reader ? n.label() + " (with " + net_->node(reader->node).label() + ")" : n.label()) +
        ": " + err.what());
  }
  for (std::size_t k = 0; k < out_slots.size(); ++k) {
    if (out_slots[k] < 0) continue;
    const auto s = static_cast<std::size_t>(out_slots[k]);
    owned_[s] = std::move(outs_[k]);
    stale_[s] = 0;
    if (hooks_[s] && out_slots[k] != hooked_in_kernel) hooks_[s](owned_[s]);
  }
  if (reader || out_tr) stale_[static_cast<std::size_t>(st.out[0])] = 1;
  if (pool_step) stale_[static_cast<std::size_t>(reader->out[0])] = 1;
  if (add) stale_[static_cast<std::size_t>(add->out[0])] = 1;
  if (active.donate) stale_[static_cast<std::size_t>(plan.donor)] = 1;
  return Ok{};
}

Status Engine::refresh(std::size_t slot) {
  const int p = producer_[slot];
  assert(p >= 0);
  for (int s : steps_[static_cast<std::size_t>(p)].in)
    if (s >= 0 && stale_[static_cast<std::size_t>(s)])
      if (auto r = refresh(static_cast<std::size_t>(s)); !r) return r;
  return run_step(static_cast<std::size_t>(p), ActiveFolds{});
}

Status Engine::run_steps(std::size_t begin, std::size_t end) {
  end = std::min(end, steps_.size());
  if (begin >= end) return Ok{};
  // An earlier call may have left a value made before `begin` out of date (folded into its
  // reader, or its storage taken by a view op): recompute those this call reads.
  for (std::size_t i = begin; i < end; ++i)
    for (int s : steps_[i].in)
      if (s >= 0 && stale_[static_cast<std::size_t>(s)] &&
          producer_[static_cast<std::size_t>(s)] < static_cast<int>(begin))
        if (auto r = refresh(static_cast<std::size_t>(s)); !r) return r;
  folded_.assign(steps_.size(), 0);
  for (std::size_t i = begin; i < end; ++i) {
    if (folded_[i]) continue;
    const Step& st = steps_[i];
    const StepFolds& plan = st.folds;
    if (transpose_folds_here(i, end)) {
      // The MatMul reading it reads its input instead (run_step); the value is left out of date.
      folded_[i] = 1;
      stale_[static_cast<std::size_t>(st.out[0])] = 1;
      continue;
    }
    const bool gelu = gelu_here(i, end);
    ActiveFolds active;
    active.fuse = !gelu && fused_here(i, end);
    active.chain = active.fuse && chained_here(i, end);
    active.pool = active.fuse && !active.chain && pooled_here(i, end);
    // Only storage made in this call is taken: a value from before `begin` is shared by
    // every call that starts there (sweeps rerun [k, n) many times over one prefix).
    active.donate = !gelu && fusion_ && plan.donor >= 0 &&
                    producer_[static_cast<std::size_t>(plan.donor)] >= static_cast<int>(begin);
    active.in_transposes = true;
    active.out_transpose = !gelu && !active.fuse && out_transposed_here(i, end);
    const auto t0 =
        profile_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    if (auto r = gelu ? run_gelu(i) : run_step(i, active); !r) return r;
    if (profile_)
      (*profile_)[i] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (gelu)
      for (int k : plan.gelu) folded_[static_cast<std::size_t>(k)] = 1;
    if (active.fuse) folded_[static_cast<std::size_t>(plan.fusable_next)] = 1;
    if (active.pool) folded_[static_cast<std::size_t>(plan.max_pool)] = 1;
    if (active.out_transpose) folded_[static_cast<std::size_t>(plan.out_transpose)] = 1;
    if (active.chain)
      folded_[static_cast<std::size_t>(
          steps_[static_cast<std::size_t>(plan.fusable_next)].folds.fusable_next)] = 1;
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
  elementwise_[static_cast<std::size_t>(it->second)] = nullptr;
  return Ok{};
}

Status Engine::set_elementwise_hook(const std::string& tensor, ElementwiseHook hook) {
  if (!hook) return set_hook(tensor, nullptr);
  auto wrap = [h = hook](Tensor& t) {
    ops::parallel_chunks(static_cast<std::int64_t>(t.f.size()),
                         [&](std::int64_t b, std::int64_t e) {
                           h(std::span<float>(t.f.data() + b, static_cast<std::size_t>(e - b)));
                         });
  };
  if (auto st = set_hook(tensor, std::move(wrap)); !st) return st;
  elementwise_[static_cast<std::size_t>(slot_of_.at(tensor))] = std::move(hook);
  return Ok{};
}

void Engine::clear_hooks() {
  for (auto& h : hooks_) h = nullptr;
  for (auto& h : elementwise_) h = nullptr;
}

Status Engine::set_constant(const std::string& name, const Tensor* t, bool values_fixed) {
  auto it = net_->model.initializers.find(name);
  if (it == net_->model.initializers.end()) return make_error("no constant '" + name + "'");
  const auto s = static_cast<std::size_t>(slot_of_.at(name));
  slots_[s] = t ? t : &it->second;
  // Set again, the tensor (or a new one at the same address) may hold new values. The model's
  // own constants never change.
  if (t && !values_fixed) drop_derived(s, t->f.data());
  return Ok{};
}

void Engine::reset_constants() {
  for (const auto& [name, t] : net_->model.initializers)
    slots_[static_cast<std::size_t>(slot_of_.at(name))] = &t;
}

void Engine::drop_derived(std::size_t s, const float* source) {
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    const std::vector<int>& in = steps_[i].in;
    if (!keeps_derived_[i] || std::find(in.begin(), in.end(), static_cast<int>(s)) == in.end())
      continue;
    std::erase_if(derived_[i].entries,
                  [&](const DerivedWeights::Entry& e) { return e.source == source; });
  }
}

std::map<std::string, Shape> Engine::value_shapes() const {
  std::map<std::string, Shape> shapes;
  for (std::size_t s = 0; s < slots_.size(); ++s) shapes[slot_names_[s]] = slots_[s]->shape;
  return shapes;
}

void Engine::record_shapes(Network& net) const {
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    net.shapes[slot_names_[s]] = slots_[s]->shape;
    net.dtypes[slot_names_[s]] = slots_[s]->dtype;
  }
  // A folded step's own output was never written; it has its reader's (elementwise) shape,
  // or, when the reader was folded too, its reader's.
  for (const Step& st : steps_) {
    if (st.folds.fusable_next < 0 || !stale_[static_cast<std::size_t>(st.out[0])]) continue;
    const Step* r = &steps_[static_cast<std::size_t>(st.folds.fusable_next)];
    if (st.folds.max_pool >= 0 && stale_[static_cast<std::size_t>(r->out[0])]) {
      // Folded into a MaxPool: batch and channels from its output, the spatial extent from the
      // shapes the fold was planned with (pooling loses whether it was odd).
      const Shape& pooled = slots_[static_cast<std::size_t>(
                                       steps_[static_cast<std::size_t>(st.folds.max_pool)].out[0])]
                                ->shape;
      for (int s : {st.out[0], r->out[0]}) {
        const std::string& name = slot_names_[static_cast<std::size_t>(s)];
        Shape shape = net_->shapes.at(name);
        shape[0] = pooled[0];
        shape[1] = pooled[1];
        net.shapes[name] = shape;
        net.dtypes[name] = DType::Float32;
      }
      continue;
    }
    if (r->folds.fusable_next >= 0 && stale_[static_cast<std::size_t>(r->out[0])])
      r = &steps_[static_cast<std::size_t>(r->folds.fusable_next)];
    const Tensor& y = *slots_[static_cast<std::size_t>(r->out[0])];
    net.shapes[slot_names_[static_cast<std::size_t>(st.out[0])]] = y.shape;
    net.dtypes[slot_names_[static_cast<std::size_t>(st.out[0])]] = y.dtype;
  }
  // A skipped Transpose's value is its input's, permuted; a MatMul's written through a
  // Transpose is that Transpose output's, permuted back.
  for (const Step& st : steps_) {
    if (st.folds.perm.empty() || !stale_[static_cast<std::size_t>(st.out[0])]) continue;
    const Shape& x = slots_[static_cast<std::size_t>(st.in[0])]->shape;
    if (x.size() != st.folds.perm.size()) continue;
    Shape t(x.size());
    for (std::size_t d = 0; d < x.size(); ++d) t[d] = x[static_cast<std::size_t>(st.folds.perm[d])];
    net.shapes[slot_names_[static_cast<std::size_t>(st.out[0])]] = t;
    net.dtypes[slot_names_[static_cast<std::size_t>(st.out[0])]] = DType::Float32;
  }
  for (const Step& st : steps_) {
    if (st.folds.out_transpose < 0 || !stale_[static_cast<std::size_t>(st.out[0])]) continue;
    const Step& tr = steps_[static_cast<std::size_t>(st.folds.out_transpose)];
    const Shape& t = slots_[static_cast<std::size_t>(tr.out[0])]->shape;
    if (t.size() != tr.folds.perm.size()) continue;
    Shape y(t.size());
    for (std::size_t d = 0; d < t.size(); ++d) y[static_cast<std::size_t>(tr.folds.perm[d])] = t[d];
    net.shapes[slot_names_[static_cast<std::size_t>(st.out[0])]] = y;
    net.dtypes[slot_names_[static_cast<std::size_t>(st.out[0])]] = DType::Float32;
  }
}

}  // namespace mpq
