#pragma once
// Reverse mode over the engine's prepared graph: one forward run that keeps every value, then
// the steps in reverse order, each op's backward rule (OpSpec::backward, next to its kernel in
// sim/ops/) turning dL/d(outputs) into dL/d(inputs). Gives the vector-Jacobian product with
// respect to every model input, every float constant (weights) and every value in between.
//
// Memory, in floats: sum over all values |v| (the forward engine keeps every value: fusion is
// off so no value is folded away) + sum over the values on a gradient path |v| (their
// gradients, kept across passes so that callers can read dL/dy of any tensor, e.g. phase 1's
// Fisher metric, and so that no pass allocates again) + per step input position, the largest
// gradient that was added to an existing one (scratch). A value is on a gradient path when it
// depends on a wanted value (default: any input or float constant) through ops that pass
// gradients and an output depends on it.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "engine.hpp"

namespace mpq {

class Backward {
 public:
  // `net` must outlive the object. Fails, before anything runs, when an op on a gradient path
  // has no backward rule and its traits do not say that no gradient flows through it; the
  // message names the op type and the node.
  // `wanted`: the values (computed values, model inputs or constants) whose gradients the
  // caller reads; empty: every model input and float constant. Only the steps between a wanted
  // value and an output run backwards (a caller that needs dL/dy of activations only skips the
  // weight gradients).
  static Result<Backward> create(const Network& net, std::span<const std::string> wanted = {});

  // The forward engine (fusion off). A hook set on it directly is differentiated as the
  // identity; set_quantizer adds the clipping.
  Engine& engine() { return engine_; }
  Result<std::vector<Tensor>> forward(std::span<const Tensor> inputs);
  // dL/d(output k) = output_grads[k] (an empty tensor: zero), in net.model.outputs order.
  // Needs forward() first.
  Status backward(std::span<const Tensor> output_grads);
  // dL/d(value) of the last backward(); nullptr when no gradient reaches it (zero, or not on a
  // gradient path).
  const Tensor* grad(const std::string& value) const;
  // The value the last forward() computed (or the constant); nullptr for an unknown name.
  const Tensor* value(const std::string& name) const;
  // Whether a value is on a gradient path (gets a gradient from backward()).
  bool on_gradient_path(const std::string& value) const;
  // A fake quantizer on a computed value, differentiated by the straight-through estimator:
  // the gradient passes where the value before quantization lies in [lo, hi] (the clipping
  // range) and is zero outside. An empty `quantize` removes it.
  Status set_quantizer(const std::string& value, Engine::ElementwiseHook quantize, float lo,
                       float hi);
  // The same for a weight: the kernels read `quantized` (see Engine::set_constant), the
  // gradient w.r.t. the float weight is masked by [lo, hi]. nullptr restores the float weight.
  Status set_quantized_constant(const std::string& name, const Tensor* quantized, float lo,
                                float hi);
  // Adds each step's backward-rule wall time to (*seconds)[step] (sized to the steps);
  // nullptr: off.
  void set_profile(std::vector<double>* seconds) {
    profile_ = seconds;
    if (profile_) profile_->resize(engine_.steps_.size(), 0.0);
  }

 private:
  explicit Backward(Engine e) : engine_(std::move(e)) {}
  const Network* net_ = nullptr;
  Engine engine_;
  std::vector<char> active_;       // per slot: on a gradient path
  std::vector<char> step_active_;  // per step: some output on a gradient path
  // Per slot; buffers are kept across passes (no allocation, no page faults after the first).
  std::vector<Tensor> grads_;
  std::vector<char> has_grad_;  // per slot: grads_ holds the last backward()'s gradient
  // Per slot with a quantizer: 1 where the float value was inside the clipping range.
  std::vector<std::vector<char>> pass_;
  std::vector<Tensor> scratch_;
  std::vector<double>* profile_ = nullptr;
  Status run_rule(std::size_t step);
};

// Each sample's own dL_n/dW of weight input k of `node` (rows of |W| floats, [N, W's shape...]),
// from the node's forward inputs and dL/d(its output 0), where that is one GEMM per sample
// (a Conv's weight, input 1); nullopt for any other op or input (the caller reruns the kernel).
std::optional<Tensor> per_sample_weight_grads(const OpNode& node,
                                              std::span<const Tensor* const> inputs,
                                              const Tensor& out_grad, std::size_t k);

// Softmax cross-entropy summed over the samples of `logits` ([N, C]) against `labels` (N
// class indices), and its gradient softmax(logits) - onehot (the gradient of the sum, so that
// each sample's slice is that sample's own dL/dlogits).
struct CrossEntropy {
  double loss = 0;
  Tensor grad;
};
Result<CrossEntropy> cross_entropy(const Tensor& logits, std::span<const std::int64_t> labels);
// The labels the logits predict (argmax per row, the first on ties).
std::vector<std::int64_t> predicted_labels(const Tensor& logits);

}  // namespace mpq
