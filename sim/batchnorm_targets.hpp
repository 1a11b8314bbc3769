#pragma once
// ZeroQ's targets: the running statistics of every BatchNormalization, read from the model
// before preparation folds them into the convolutions, and the matching loss over a batch.
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "graph/model.hpp"
#include "graph/network.hpp"

namespace mpq {

struct BatchNormTarget {
  std::string node;              // the BatchNormalization's label, for messages
  std::string input;             // the value it normalizes, [N, C, ...]
  std::vector<float> mean, std;  // running mean and sqrt(running var + epsilon), per channel
  float epsilon = 1e-5f;         // the layer's, added to the batch variance likewise
};

// The targets of every inference BatchNormalization of `m` (constant statistics), with each
// normalized value appended to m.outputs so that a backward pass can seed its gradient there.
// An error when the model has none.
Result<std::vector<BatchNormTarget>> expose_batchnorm_inputs(Model& m);

// load_onnx + expose_batchnorm_inputs + prepare_network with BatchNorm folding off.
Result<Network> load_network_with_batchnorm(const std::string& path,
                                            const std::vector<std::string>& input_shapes,
                                            bool allow_nonfinite,
                                            std::vector<BatchNormTarget>& targets);

// Mean over the targets of (1/C) sum_c [(m_c - mean_c)^2 + (s_c - std_c)^2], m_c and
// s_c = sqrt(v_c + eps) the batch's mean and standard deviation of channel c (axis 1) over all
// other axes. `values[l]` is target l's value; with `grads`, grads[l] receives dLoss/dvalue.
double batchnorm_matching_loss(std::span<const Tensor* const> values,
                               std::span<const BatchNormTarget> targets,
                               std::vector<Tensor>* grads);

}  // namespace mpq
