#pragma once
// Executes a prepared Network on float batches: a fixed plan of kernel calls in topological
// order over numbered value slots. Not thread-safe: use one Engine per thread.
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "graph/network.hpp"
#include "op_registry.hpp"

namespace mpq {

class Engine {
 public:
  // `net` must outlive the engine.
  static Result<Engine> create(const Network& net);

  // Inputs in the order of net.model.inputs; returns the outputs in net.model.outputs order.
  Result<std::vector<Tensor>> run(std::span<const Tensor> inputs);

  // run() in pieces, for sweeps that share a prefix of the network between many variants:
  // set the inputs (input hooks run here), run steps [begin, end), read the outputs. A step
  // only writes its own outputs, so rerunning [k, n) after changing hooks or constants that
  // steps before k do not touch gives the same result as a full run.
  // Three savings keep that contract: a Conv, Add or MatMul whose sole reader is a Relu/Clip
  // (or, for MatMul, an Add of a bias vector, a Mul by a scalar or a Transpose; for Conv, an Add
  // of a residual computed before it, with that Add's own Relu/Clip) writes the reader's result
  // straight into the reader's output (when both run in the same call and no hook watches its
  // own output); a MatMul reads through a Transpose that only it reads (skipped, when both run
  // in the same call and no hook watches the transposed value); and a
  // Reshape-like view op takes over the storage of an input nobody else reads (when that input was
  // computed in the same call). A value left out of date that way is recomputed, with its hooks,
  // when a later call that starts after it reads it.
  Status set_inputs(std::span<const Tensor> inputs);
  Status run_steps(std::size_t begin, std::size_t end);
  std::vector<Tensor> outputs() const;
  std::size_t num_steps() const { return steps_.size(); }
  // The step that computes `tensor`; 0 for a model input (its hook runs in set_inputs).
  std::size_t producer_step(const std::string& tensor) const;
  // The first step that reads `tensor`; num_steps() when none does.
  std::size_t first_reader_step(const std::string& tensor) const;
  // Called on a tensor right after it is computed (or given, for a model input): activation
  // quantizers and calibration observers attach here. One hook per tensor; empty clears it.
  using TensorHook = std::function<void(Tensor&)>;
  Status set_hook(const std::string& tensor, TensorHook hook);
  // A hook that maps every element of the tensor on its own (a per-tensor fake quantizer): it
  // may be applied to any part of the tensor, so folded kernels apply it to the values they
  // produce instead of giving up the fold. Replaces any hook on the tensor.
  using ElementwiseHook = std::function<void(std::span<float>)>;
  Status set_elementwise_hook(const std::string& tensor, ElementwiseHook hook);
  void clear_hooks();
  // Makes a constant read `t` instead (a fake-quantized weight); nullptr restores the model's.
  // `t` must outlive every later run, and its values must not change while it is set: kernels
  // keep weights derived from a constant's values (repacked, transformed) for reuse, which a
  // set_constant call with that tensor drops, unless `values_fixed` promises that t's values
  // stay as they are for the engine's whole life (a sweep switching every batch between the
  // weights of its candidates keeps what was derived from each).
  Status set_constant(const std::string& name, const Tensor* t, bool values_fixed = false);
  // Every constant reads the model's value again.
  void reset_constants();

  // Shape and dtype of every value computed by the last run (for shape inference).
  void record_shapes(Network& net) const;
  // Shape of every value by name as the last run left it. A value folded into its reader keeps
  // an old shape: with set_fusion(false) every value is written.
  std::map<std::string, Shape> value_shapes() const;
  // Off: every step runs on its own (a Relu/Clip is never folded into its producer).
  void set_fusion(bool on) { fusion_ = on; }
  // When set, every run adds each step's wall time (seconds) to (*seconds)[step]; a folded
  // Relu/Clip counts in its producer's entry. nullptr stops profiling.
  void set_profile(std::vector<double>* seconds) {
    profile_ = seconds;
    if (profile_) profile_->resize(steps_.size(), 0.0);
  }
  // The node step i runs.
  const OpNode& step_node(std::size_t i) const { return net_->node(steps_[i].node); }

 private:
  friend class Backward;  // reverse mode reads the plan and every value (sim/backward.cpp)
  // The folds planned for a step (engine_plan.cpp), from the graph alone; -1 or empty where
  // none applies. Whether each happens is decided per call (run_steps, ActiveFolds).
  struct StepFolds {
    // A Relu/Clip step, or an Add of a bias vector (bias_slot), that may be folded into this
    // one (the sole reader of out[0]), or -1.
    int fusable_next = -1;
    int bias_slot = -1;
    // For a Conv whose fusable_next is an Add of a same-shaped tensor computed before it (a
    // residual connection): that tensor's slot. The Add's own folded Relu/Clip may chain on.
    int residual_slot = -1;
    // For a Conv whose fusable_next is a Relu/Clip read only by a 2x2 stride-2 MaxPool: that
    // MaxPool's step, which may fold in too (the Conv then writes the pooled values).
    int max_pool = -1;
    // For a Div that starts an exported exact GELU (Div, Erf, Add, Mul, Mul): the other four
    // steps, and the constants c, one, half; empty otherwise.
    std::vector<int> gelu;
    float gelu_c = 0.0f, gelu_one = 0.0f, gelu_half = 0.0f;
    // in[0] when this view op may take over its storage (it is the value's only reader), or -1.
    int donor = -1;
    // For a MatMul whose fusable_next is a Mul by a scalar constant: that constant's slot.
    int scale_slot = -1;
    // Transposes folded into a MatMul, which then reads or writes through their perms: for a
    // MatMul, the Transpose step producing input k (k = 0, 1) and the one reading its output
    // (each the only reader of its input), or -1; for such a Transpose, the MatMul's step and
    // the Transpose's perm, normalized.
    int in_transpose[2] = {-1, -1};
    int out_transpose = -1;
    int transpose_of = -1;
    std::vector<std::int64_t> perm;
  };
  struct Step {
    const OpSpec* spec = nullptr;
    std::size_t node = 0;
    std::vector<int> in;   // slot per input, -1 when omitted
    std::vector<int> out;  // slot per output, -1 when unused
    StepFolds folds;
  };
  // Which of a step's planned folds this call of run_steps applies (none when a stale value is
  // recomputed on its own).
  struct ActiveFolds {
    bool fuse = false;           // fusable_next: the step writes its reader's result
    bool chain = false;          // with reader: the residual Add and then the Add's Relu/Clip
    bool pool = false;           // with reader: the MaxPool after the Relu/Clip
    bool donate = false;         // donor: the kernel may take over input 0's storage
    bool in_transposes = false;  // in_transpose: inputs whose Transpose was skipped (folded_)
    bool out_transpose = false;  // out_transpose: the result is written through the Transpose
  };
  void plan_reuse();
  bool fused_here(std::size_t i, std::size_t end) const;
  std::pair<float, float> clamp_of(const Step& reader) const;
  int find_bias_vector(const Step& st, const Step& add) const;
  int find_residual(std::size_t conv, const Step& add) const;
  bool chained_here(std::size_t i, std::size_t end) const;
  bool pooled_here(std::size_t i, std::size_t end) const;
  int find_max_pool(const Step& clamp, const std::vector<int>& readers,
                    const std::vector<int>& reader_step) const;
  void find_gelu_chain(Step& div, const std::vector<int>& readers,
                       const std::vector<int>& reader_step);
  bool gelu_here(std::size_t i, std::size_t end) const;
  int find_scale(const Step& st, const Step& mul) const;
  std::optional<std::vector<std::int64_t>> transpose_perm(const Step& t) const;
  void plan_transposes(const std::vector<int>& readers, const std::vector<int>& reader_step);
  bool transpose_folds_here(std::size_t i, std::size_t end) const;
  bool out_transposed_here(std::size_t i, std::size_t end) const;
  // Drops what the steps reading slot `s` derived from the values at `source`.
  void drop_derived(std::size_t s, const float* source);
  Status run_gelu(std::size_t i);
  Status run_step(std::size_t i, const ActiveFolds& active);
  // Recomputes an out-of-date value (and, first, any out-of-date value its producer reads).
  Status refresh(std::size_t slot);
  const Network* net_ = nullptr;
  std::vector<Step> steps_;
  std::vector<std::string> slot_names_;
  std::vector<const Tensor*> slots_;  // constants point into the model, others into owned_
  std::vector<Tensor> owned_;
  std::vector<int> input_slots_, output_slots_;
  std::vector<TensorHook> hooks_;             // per slot
  std::vector<ElementwiseHook> elementwise_;  // per slot; when set, hooks_ applies it
  // No hook, or only an elementwise one: a fold may skip writing the slot's value.
  bool foldable(int slot) const {
    const auto s = static_cast<std::size_t>(slot);
    return !hooks_[s] || elementwise_[s];
  }
  std::map<std::string, int> slot_of_;
  // Slots whose value is out of date because the last run folded their reader into their
  // producer (which wrote the reader's output directly).
  std::vector<char> stale_;
  std::vector<int> producer_;  // step that computes each slot, -1 for constants and inputs
  // Per step: weights its kernel derived from its constants (OpContext::derived), for steps
  // whose inputs but input 0 are all constants.
  std::vector<DerivedWeights> derived_;
  std::vector<char> keeps_derived_;
  bool fusion_ = true;
  std::vector<double>* profile_ = nullptr;
  // Scratch of run_steps, kept to avoid allocations per run.
  std::vector<const Tensor*> in_ptrs_;
  std::vector<Tensor> outs_;
  std::vector<char> folded_;
};

}  // namespace mpq
