#pragma once
// Phase 1 with the first-order Taylor ("Fisher") metric of Schaefer et al.: for task (group g,
// candidate c), fisher = sum over samples n of (sum over g's quantized tensors t of
// dL_n/dt . (Q_c(t_n) - t_n))^2, the squared first-order change of the sample's loss when only
// g is quantized at c. One forward and one backward pass of the float network per batch give
// dL/dt for every tensor (sim/backward.hpp); each task then costs only the local quantization.
// L is the softmax cross-entropy of output 0 against the labels when the samples have them,
// else against the float network's own top-1 prediction.
//
// (ours) A weight W of op z = f(x; W) contributes dL_n/dz_n . (f(x_n; Q_c(W)) - z_n), the
// change of its consumer's output for that sample (one run of the consumer's kernel per
// candidate), so that the per-sample term is exact to first order without per-sample weight
// gradients. Biases derived from the quantized scales are not perturbed. The gradients come
// from the float network whatever the sweep mode (others float or at their baseline).
#include "core/result.hpp"
#include "sensitivity_sweep.hpp"

namespace mpq {

// Whether the metric applies to `net`, checked before anything runs: output 0 must be
// [N, classes] logits with at least two classes (the loss is a cross-entropy), and every op
// on a gradient path must have a backward rule.
Status check_fisher_applicable(const Network& net);

// Computes the tasks not in `done` (only TaskResult::fisher; the output metrics are NaN).
// Errors: output 0 is not [N, C] logits (the metric needs a classifier), or an op of the
// network has no backward rule.
Result<std::vector<TaskResult>> run_fisher_sweep(const SweepInputs& in, const TaskKeys& done,
                                                 const SweepCallbacks& cb);

}  // namespace mpq
