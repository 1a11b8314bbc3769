#pragma once
// Data-free inputs (Lee et al. 2021; ZeroQ for comparison): labeled samples made from noise by
// gradient descent (Adam) on the input of the float model, for running phase 1 with no data.
//   lee    the cross-entropy of each sample against its target label plus a total-variation
//          smoothness prior; uses no BatchNorm statistics (import folds them into the convs)
//   zeroq  each batch's per-channel mean and standard deviation at every BatchNormalization's
//          input matched to the layer's running statistics (ZeroQ, Cai et al. 2020), on a network
//          prepared with its BatchNormalizations kept (batchnorm_targets.hpp); the labels
//          written are the float model's predictions, as ZeroQ's data has none
// Sample k has target label k mod classes, so that any prefix of the set is balanced. The
// starting noise of sample k depends only on the seed and k; batches of `batch` samples are
// optimized in turn, each with its own Adam state, so the result does not depend on the thread
// count.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "batchnorm_targets.hpp"
#include "core/result.hpp"
#include "graph/network.hpp"

namespace mpq {

enum class SynthesisMethod { Lee, ZeroQ };

Result<SynthesisMethod> parse_synthesis_method(const std::string& name);
const char* synthesis_method_name(SynthesisMethod m);

struct SynthesisSettings {
  SynthesisMethod method = SynthesisMethod::Lee;
  std::int64_t classes = 10, per_class = 1;
  std::uint64_t seed = 0;
  std::int64_t iterations = 200;
  double learning_rate = 0.1;
  double tv_weight = 0.5;  // per-sample TV (total_variation.hpp) against the per-sample loss
  std::int64_t batch = 64;

  std::int64_t count() const { return classes * per_class; }
};

// lee: tv_weight 0.5; zeroq: no smoothness prior, as the paper.
double default_tv_weight(SynthesisMethod m);

struct SyntheticSet {
  Tensor inputs;                       // [count, one sample's shape]
  std::vector<std::int64_t> labels;    // count
  std::int64_t on_target = 0;          // samples the float model assigns their label
  double mean_target_probability = 0;  // softmax probability of the label, averaged
};

// The checks made before anything runs: output 0 is [N, classes] logits (a class axis),
// `classes` is within its width, the counts are positive, the model has one float input of
// known sample shape.
Status check_synthesis(const Network& net, const SynthesisSettings& s);

using SynthesisProgress = std::function<void(std::int64_t done, std::int64_t total)>;

// `targets` (zeroq only): the BatchNormalization inputs, which `net` has among its outputs.
Result<SyntheticSet> synthesize_inputs(const Network& net, const SynthesisSettings& s,
                                       std::span<const BatchNormTarget> targets,
                                       const SynthesisProgress& progress = {});

}  // namespace mpq
