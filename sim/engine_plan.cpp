// Planning the engine's folds: which Relu/Clip, bias Add, scalar Mul, Transpose or GELU chain a
// step may absorb, and which view ops may take over their input's storage. Decided once, from
// the graph alone; whether a fold happens is decided per call (Engine::run_steps: no blocking
// hook, both ends in range).
#include <algorithm>
#include <limits>
#include <optional>

#include "engine.hpp"

namespace mpq {

void Engine::plan_reuse() {
  std::vector<int> readers(slots_.size(), 0), reader_step(slots_.size(), -1);
  for (std::size_t i = 0; i < steps_.size(); ++i)
    for (int s : steps_[i].in)
      if (s >= 0) {
        ++readers[static_cast<std::size_t>(s)];
        reader_step[static_cast<std::size_t>(s)] = static_cast<int>(i);
      }
  for (int s : output_slots_) ++readers[static_cast<std::size_t>(s)];  // graph outputs stay
  auto is_constant = [&](int s) {
    return s < 0 || net_->model.is_constant(slot_names_[static_cast<std::size_t>(s)]);
  };
  producer_.assign(slots_.size(), -1);
  for (std::size_t i = 0; i < steps_.size(); ++i)
    for (int s : steps_[i].out)
      if (s >= 0) producer_[static_cast<std::size_t>(s)] = static_cast<int>(i);
  for (Step& st : steps_)
    if (net_->node(st.node).op_type == "Div") find_gelu_chain(st, readers, reader_step);
  plan_transposes(readers, reader_step);
  for (Step& st : steps_) {
    // A view op may take over its data input's storage when nothing else reads it.
    if (st.spec->reuses_input0 && !st.in.empty() && st.in[0] >= 0) {
      const auto s = static_cast<std::size_t>(st.in[0]);
      if (readers[s] == 1 && producer_[s] >= 0 &&
          std::count(st.in.begin(), st.in.end(), st.in[0]) == 1)
        st.folds.donor = st.in[0];
    }
    if (st.out.size() != 1 || st.out[0] < 0) continue;
    const auto s = static_cast<std::size_t>(st.out[0]);
    if (readers[s] != 1 || reader_step[s] < 0) continue;
    const Step& r = steps_[static_cast<std::size_t>(reader_step[s])];
    const std::string& type = net_->node(r.node).op_type;
    if (st.spec->takes_output_residual && type == "Add") {
      const int res = find_residual(static_cast<std::size_t>(&st - steps_.data()), r);
      if (res >= 0) {
        st.folds.fusable_next = reader_step[s];
        st.folds.residual_slot = res;
      }
      continue;
    }
    if (st.spec->takes_output_scale && type == "Mul") {
      const int scale = find_scale(st, r);
      if (scale >= 0) {
        st.folds.fusable_next = reader_step[s];
        st.folds.scale_slot = scale;
      }
      continue;
    }
    if (st.spec->takes_output_bias && type == "Add") {
      const int bias = find_bias_vector(st, r);
      if (bias >= 0) {
        st.folds.fusable_next = reader_step[s];
        st.folds.bias_slot = bias;
      }
      continue;
    }
    if (!st.spec->takes_output_clamp) continue;
    const bool relu = type == "Relu" && r.in.size() == 1;
    // Clip bounds must be constants: they are read when the producer runs.
    const bool clip = type == "Clip" && r.in[0] == st.out[0] &&
                      std::all_of(r.in.begin() + 1, r.in.end(), is_constant);
    if ((relu || clip) && r.out.size() == 1 && r.out[0] >= 0) {
      st.folds.fusable_next = reader_step[s];
      if (st.spec->takes_output_max_pool)
        st.folds.max_pool = find_max_pool(r, readers, reader_step);
    }
  }
}

// The step of a MaxPool that alone reads `clamp`'s output and pools 2x2 windows at stride 2
// without padding over a rank-4 float tensor (the last row / column dropped when odd), or -1.
// Needs the shapes from shape inference.
int Engine::find_max_pool(const Step& clamp, const std::vector<int>& readers,
                          const std::vector<int>& reader_step) const {
  const auto s = static_cast<std::size_t>(clamp.out[0]);
  if (readers[s] != 1 || reader_step[s] < 0) return -1;
  const Step& m = steps_[static_cast<std::size_t>(reader_step[s])];
  const OpNode& n = net_->node(m.node);
  if (n.op_type != "MaxPool" || m.in.size() != 1 || m.out.empty() || m.out[0] < 0) return -1;
  for (std::size_t k = 1; k < m.out.size(); ++k)
    if (m.out[k] >= 0) return -1;  // Indices wanted
  const auto all = [&](const char* key, std::int64_t v) {
    const auto a = n.attr_ints(key, {});
    return std::all_of(a.begin(), a.end(), [&](std::int64_t x) { return x == v; });
  };
  const std::string pad = n.attr_string("auto_pad", "NOTSET");
  if (n.attr_ints("kernel_shape", {}) != std::vector<std::int64_t>{2, 2} ||
      n.attr_ints("strides", {}) != std::vector<std::int64_t>{2, 2} || !all("pads", 0) ||
      !all("dilations", 1) || n.attr_int("ceil_mode", 0) != 0 ||
      (pad != "NOTSET" && pad != "VALID"))
    return -1;
  const auto x = net_->shapes.find(slot_names_[s]);
  const auto y = net_->shapes.find(slot_names_[static_cast<std::size_t>(m.out[0])]);
  const auto dt = net_->dtypes.find(slot_names_[s]);
  if (x == net_->shapes.end() || y == net_->shapes.end() || dt == net_->dtypes.end() ||
      dt->second != DType::Float32 || x->second.size() != 4 || x->second[2] < 2 || x->second[3] < 2)
    return -1;
  const Shape pooled{x->second[0], x->second[1], x->second[2] / 2, x->second[3] / 2};
  if (y->second != pooled) return -1;
  // The Conv's own output has the clamp's shape (checked by shape inference).
  const auto c = net_->shapes.find(slot_names_[static_cast<std::size_t>(clamp.in[0])]);
  if (c == net_->shapes.end() || c->second != x->second) return -1;
  return reader_step[s];
}

// The scalar float constant's slot of a Mul (`mul`, the sole reader of `st`'s output) that keeps
// the output's shape, or -1. Needs the shapes from shape inference.
int Engine::find_scale(const Step& st, const Step& mul) const {
  if (mul.in.size() != 2 || mul.out.size() != 1 || mul.out[0] < 0) return -1;
  const int other = mul.in[0] == st.out[0] ? mul.in[1] : mul.in[0];
  if (other < 0 || other == st.out[0]) return -1;
  const std::string& name = slot_names_[static_cast<std::size_t>(other)];
  if (!net_->model.is_constant(name)) return -1;
  const Tensor& c = net_->model.initializers.at(name);
  if (!c.is_float() || c.size() != 1) return -1;
  const auto y = net_->shapes.find(slot_names_[static_cast<std::size_t>(st.out[0])]);
  const auto z = net_->shapes.find(slot_names_[static_cast<std::size_t>(mul.out[0])]);
  if (y == net_->shapes.end() || z == net_->shapes.end() || y->second != z->second) return -1;
  return other;
}

// A Transpose step's perm, normalized (the default reverses the axes), when its input is a float
// value of rank 2 or more with a known shape; nullopt otherwise.
std::optional<std::vector<std::int64_t>> Engine::transpose_perm(const Step& t) const {
  if (t.in.size() != 1 || t.in[0] < 0 || t.out.size() != 1 || t.out[0] < 0) return std::nullopt;
  const std::string& x = slot_names_[static_cast<std::size_t>(t.in[0])];
  const auto xs = net_->shapes.find(x);
  const auto dt = net_->dtypes.find(x);
  if (xs == net_->shapes.end() || dt == net_->dtypes.end() || dt->second != DType::Float32)
    return std::nullopt;
  const auto r = static_cast<std::int64_t>(xs->second.size());
  if (r < 2) return std::nullopt;
  return mpq::transpose_perm(net_->node(t.node), r);
}

// Transposes next to a MatMul (attention heads split and merged: [B, T, H, D] <-> [B, H, T, D])
// fold into it: the MatMul reads the Transpose's input with the permuted strides, or writes its
// result at the Transpose output's places, and the copy is never made. A read needs the last
// axis to stay in one of the last two places (one unit stride per matrix), a write needs it
// last. Needs the shapes from shape inference.
void Engine::plan_transposes(const std::vector<int>& readers, const std::vector<int>& reader_step) {
  const auto sole_reader = [&](int slot) {
    const auto s = static_cast<std::size_t>(slot);
    return slot >= 0 && readers[s] == 1 ? reader_step[s] : -1;
  };
  const auto is = [&](int step, const char* type) {
    return step >= 0 && net_->node(steps_[static_cast<std::size_t>(step)].node).op_type == type;
  };
  // Both inputs of a MatMul are matrices or stacks of them (no 1-D operand).
  const auto matrices = [&](const Step& mm) {
    if (mm.in.size() != 2 || mm.out.size() != 1) return false;
    for (int s : mm.in) {
      if (s < 0) return false;
      const auto sh = net_->shapes.find(slot_names_[static_cast<std::size_t>(s)]);
      if (sh == net_->shapes.end() || sh->second.size() < 2) return false;
    }
    return true;
  };
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    Step& mm = steps_[i];
    if (!mm.spec->takes_transposes || !matrices(mm)) continue;
    const int t = sole_reader(mm.out[0]);
    if (!is(t, "Transpose")) continue;
    Step& tr = steps_[static_cast<std::size_t>(t)];
    const auto perm = transpose_perm(tr);
    if (!perm || perm->back() != static_cast<std::int64_t>(perm->size()) - 1) continue;
    mm.folds.out_transpose = t;
    tr.folds.transpose_of = static_cast<int>(i);
    tr.folds.perm = *perm;
  }
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    Step& tr = steps_[i];
    if (tr.folds.transpose_of >= 0 || net_->node(tr.node).op_type != "Transpose" ||
        tr.out.size() != 1)
      continue;
    const int m = sole_reader(tr.out[0]);
    if (m < 0) continue;
    Step& mm = steps_[static_cast<std::size_t>(m)];
    if (!mm.spec->takes_transposes || !matrices(mm) || mm.in[0] == mm.in[1]) continue;
    const auto perm = transpose_perm(tr);
    if (!perm) continue;
    const auto last = static_cast<std::int64_t>(perm->size()) - 1;
    if (perm->back() != last && (*perm)[perm->size() - 2] != last) continue;
    mm.folds.in_transpose[mm.in[0] == tr.out[0] ? 0 : 1] = static_cast<int>(i);
    tr.folds.transpose_of = m;
    tr.folds.perm = *perm;
  }
}

// The constant slot of an Add (`add`, the sole reader of `st`'s output) that adds one value per
// index of the last axis without changing the shape, or -1. Needs the shapes from shape
// inference: the engine that runs shape inference itself folds no biases.
int Engine::find_bias_vector(const Step& st, const Step& add) const {
  if (add.in.size() != 2 || add.out.size() != 1 || add.out[0] < 0) return -1;
  const int other = add.in[0] == st.out[0] ? add.in[1] : add.in[0];
  if (other < 0 || other == st.out[0]) return -1;
  const std::string& name = slot_names_[static_cast<std::size_t>(other)];
  if (!net_->model.is_constant(name)) return -1;
  const Tensor& c = net_->model.initializers.at(name);
  const auto y = net_->shapes.find(slot_names_[static_cast<std::size_t>(st.out[0])]);
  const auto z = net_->shapes.find(slot_names_[static_cast<std::size_t>(add.out[0])]);
  if (y == net_->shapes.end() || z == net_->shapes.end() || y->second != z->second) return -1;
  if (!c.is_float() || y->second.empty() || c.shape.size() > y->second.size()) return -1;
  for (std::size_t d = 0; d + 1 < c.shape.size(); ++d)
    if (c.shape[d] != 1) return -1;
  if (c.shape.empty() || c.shape.back() != y->second.back() || c.size() != y->second.back())
    return -1;
  return other;
}

// The other input of an Add (`add`, the sole reader of step `conv`'s output) when it has the
// output's shape and is ready before `conv` runs (a constant, a model input or an earlier step's
// value), or -1. Needs the shapes from shape inference.
int Engine::find_residual(std::size_t conv, const Step& add) const {
  const Step& st = steps_[conv];
  if (add.in.size() != 2 || add.out.size() != 1 || add.out[0] < 0) return -1;
  const int other = add.in[0] == st.out[0] ? add.in[1] : add.in[0];
  if (other < 0 || other == st.out[0]) return -1;
  if (producer_[static_cast<std::size_t>(other)] >= static_cast<int>(conv)) return -1;
  const auto shape = [&](int slot) {
    return net_->shapes.find(slot_names_[static_cast<std::size_t>(slot)]);
  };
  const auto y = shape(st.out[0]), o = shape(other), z = shape(add.out[0]);
  if (y == net_->shapes.end() || o == net_->shapes.end() || z == net_->shapes.end()) return -1;
  if (y->second.empty() || y->second != o->second || y->second != z->second) return -1;
  const auto dt = net_->dtypes.find(slot_names_[static_cast<std::size_t>(other)]);
  if (dt == net_->dtypes.end() || dt->second != DType::Float32) return -1;
  return other;
}

void Engine::find_gelu_chain(Step& div, const std::vector<int>& readers,
                             const std::vector<int>& reader_step) {
  // The scalar constant among a binary step's inputs next to `value`, or nullopt.
  const auto scalar_beside = [&](const Step& st, int value) -> std::optional<float> {
    if (st.in.size() != 2 || (st.in[0] != value && st.in[1] != value)) return std::nullopt;
    const int other = st.in[0] == value ? st.in[1] : st.in[0];
    if (other < 0 || other == value) return std::nullopt;
    const auto it = net_->model.initializers.find(slot_names_[static_cast<std::size_t>(other)]);
    if (it == net_->model.initializers.end() || !it->second.is_float() || it->second.size() != 1 ||
        it->second.rank() > 1)
      return std::nullopt;
    return it->second.f[0];
  };
  // The only reader of step `st`'s single output, if it has that op type.
  const auto sole_reader = [&](const Step& st, const char* type) -> int {
    if (st.out.size() != 1 || st.out[0] < 0) return -1;
    const auto s = static_cast<std::size_t>(st.out[0]);
    if (readers[s] != 1 || reader_step[s] < 0) return -1;
    return net_->node(steps_[static_cast<std::size_t>(reader_step[s])].node).op_type == type
               ? reader_step[s]
               : -1;
  };
  if (div.in.size() != 2 || div.in[0] < 0) return;
  const int x = div.in[0];
  const auto c = scalar_beside(div, x);
  const int erf = c && div.in[1] != x ? sole_reader(div, "Erf") : -1;
  if (erf < 0) return;
  const Step& erf_st = steps_[static_cast<std::size_t>(erf)];
  const int add = sole_reader(erf_st, "Add");
  if (add < 0) return;
  const Step& add_st = steps_[static_cast<std::size_t>(add)];
  const auto one = scalar_beside(add_st, erf_st.out[0]);
  const int mul1 = one ? sole_reader(add_st, "Mul") : -1;
  if (mul1 < 0) return;
  const Step& mul1_st = steps_[static_cast<std::size_t>(mul1)];
  const bool takes_x =
      mul1_st.in.size() == 2 && ((mul1_st.in[0] == x && mul1_st.in[1] == add_st.out[0]) ||
                                 (mul1_st.in[1] == x && mul1_st.in[0] == add_st.out[0]));
  const int mul2 = takes_x ? sole_reader(mul1_st, "Mul") : -1;
  if (mul2 < 0) return;
  const Step& mul2_st = steps_[static_cast<std::size_t>(mul2)];
  const auto half = scalar_beside(mul2_st, mul1_st.out[0]);
  if (!half || mul2_st.out.size() != 1 || mul2_st.out[0] < 0) return;
  // Scalars must not broadcast x to a higher rank: the result has x's shape.
  const auto xs = net_->shapes.find(slot_names_[static_cast<std::size_t>(x)]);
  const auto ys = net_->shapes.find(slot_names_[static_cast<std::size_t>(mul2_st.out[0])]);
  if (xs == net_->shapes.end() || ys == net_->shapes.end() || xs->second != ys->second) return;
  div.folds.gelu = {erf, add, mul1, mul2};
  div.folds.gelu_c = *c;
  div.folds.gelu_one = *one;
  div.folds.gelu_half = *half;
}

// The clamp a Relu/Clip step applies, as its kernel computes it.
std::pair<float, float> Engine::clamp_of(const Step& r) const {
  const OpNode& n = net_->node(r.node);
  if (n.op_type == "Relu") return {0.0f, std::numeric_limits<float>::infinity()};
  float lo = std::numeric_limits<float>::lowest(), hi = std::numeric_limits<float>::max();
  const std::int64_t opset = net_->model.opset;
  if (opset < 11) {
    lo = n.attr_float("min", lo);
    hi = n.attr_float("max", hi);
    return {lo, hi};
  }
  auto bound = [&](std::size_t k, float dflt) {
    if (k >= r.in.size() || r.in[k] < 0) return dflt;
    const Tensor& t = *slots_[static_cast<std::size_t>(r.in[k])];
    if (t.size() == 0) return dflt;
    if (t.size() != 1) throw OpError("Clip min/max must be scalars, got " + shape_str(t.shape));
    return static_cast<float>(t.at_f(0));
  };
  return {bound(1, lo), bound(2, hi)};
}

}  // namespace mpq
