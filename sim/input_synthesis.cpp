#include "input_synthesis.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "adam.hpp"
#include "backward.hpp"
#include "dataset.hpp"
#include "total_variation.hpp"

namespace mpq {
namespace {

// splitmix64: a counter-based stream, so sample k's noise depends on (seed, k) alone.
std::uint64_t mix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Standard normal noise for one sample (Box-Muller on 53-bit uniforms).
void fill_noise(std::span<float> out, std::uint64_t seed, std::int64_t sample) {
  std::uint64_t state = mix(seed ^ mix(static_cast<std::uint64_t>(sample) + 1));
  const auto uniform = [&] {
    state = mix(state);
    return (static_cast<double>(state >> 11) + 0.5) * 0x1.0p-53;
  };
  constexpr double kTwoPi = 6.283185307179586;
  for (std::size_t k = 0; k < out.size(); k += 2) {
    const double r = std::sqrt(-2.0 * std::log(uniform())), a = kTwoPi * uniform();
    out[k] = static_cast<float>(r * std::cos(a));
    if (k + 1 < out.size()) out[k + 1] = static_cast<float>(r * std::sin(a));
  }
}

bool channels_last(const Network& net) {
  auto p = preprocess_from_metadata(net.model);
  return p && p->layout == "NHWC";
}

// One forward and backward pass of the batch `x`: the gradient of the method's loss w.r.t. x.
Result<Tensor> loss_gradient(Backward& bw, const Network& net, const SynthesisSettings& s,
                             std::span<const BatchNormTarget> targets, const Tensor& x,
                             std::span<const std::int64_t> labels,
                             const std::vector<std::int64_t>& axes) {
  auto y = bw.forward(std::span<const Tensor>(&x, 1));
  if (!y) return y.error();
  std::vector<Tensor> seeds(y->size());
  if (s.method == SynthesisMethod::Lee) {
    auto ce = cross_entropy(y->at(0), labels);
    if (!ce) return ce.error();
    seeds[0] = std::move(ce->grad);
  } else {
    std::vector<const Tensor*> values;
    for (const BatchNormTarget& t : targets) {
      const Tensor* v = bw.value(t.input);
      if (!v || v->rank() < 2 || v->shape[1] != static_cast<std::int64_t>(t.mean.size()))
        return make_error(t.node + ": its input '" + t.input + "' does not have " +
                          std::to_string(t.mean.size()) + " channels on axis 1");
      values.push_back(v);
    }
    std::vector<Tensor> grads;
    batchnorm_matching_loss(values, targets, &grads);
    // The targets were appended to the outputs in order (a value listed twice gets one seed).
    for (std::size_t l = 0; l < targets.size(); ++l)
      for (std::size_t k = 1; k < net.model.outputs.size(); ++k)
        if (net.model.outputs[k].name == targets[l].input && seeds[k].f.empty()) {
          seeds[k] = std::move(grads[l]);
          break;
        }
  }
  if (auto st = bw.backward(seeds); !st) return st.error();
  const Tensor* g = bw.grad(net.model.inputs[0].name);
  Tensor grad = g ? *g : Tensor::zeros(x.shape);
  if (s.tv_weight > 0) total_variation(x, axes, s.tv_weight, &grad);
  return grad;
}

}  // namespace

Result<SynthesisMethod> parse_synthesis_method(const std::string& name) {
  if (name == "lee") return SynthesisMethod::Lee;
  if (name == "zeroq") return SynthesisMethod::ZeroQ;
  return make_error("unknown synthesis method '" + name + "' (methods: lee, zeroq)");
}

const char* synthesis_method_name(SynthesisMethod m) {
  return m == SynthesisMethod::Lee ? "lee" : "zeroq";
}

double default_tv_weight(SynthesisMethod m) {
  return m == SynthesisMethod::Lee ? 0.5 : 0.0;
}

Status check_synthesis(const Network& net, const SynthesisSettings& s) {
  if (s.classes <= 0)
    return make_error("--classes must be positive, got " + std::to_string(s.classes));
  if (s.per_class <= 0)
    return make_error("--per-class must be positive, got " + std::to_string(s.per_class));
  if (s.iterations <= 0 || s.batch <= 0 || !(s.learning_rate > 0) || !(s.tv_weight >= 0))
    return make_error("iterations, batch and learning rate must be positive, the TV weight >= 0");
  if (net.model.inputs.size() != 1 || net.model.inputs[0].dtype != DType::Float32)
    return make_error("input synthesis needs a model with one float input, this one has " +
                      std::to_string(net.model.inputs.size()) + " inputs");
  const ValueInfo& in = net.model.inputs[0];
  bool known = in.has_shape && in.dims.size() >= 2;
  for (std::size_t d = 1; known && d < in.dims.size(); ++d) known = in.dims[d] > 0;
  if (!known)
    return make_error("input '" + in.name + "' has no known sample shape; give --input-shape");
  const std::string& out = net.model.outputs.at(0).name;
  auto shape = net.shapes.find(out);
  if (shape == net.shapes.end() || shape->second.size() != 2 || shape->second[1] < 2)
    return make_error(
        "input synthesis needs a classifier: output 0 ('" + out +
        "') must be [N, classes] logits to give each sample a target class, but it has shape " +
        (shape == net.shapes.end() ? std::string("unknown") : shape_str(shape->second)));
  if (s.classes > shape->second[1])
    return make_error("--classes " + std::to_string(s.classes) + " is beyond the model's " +
                      std::to_string(shape->second[1]) + " classes (output '" + out + "' is " +
                      shape_str(shape->second) + ")");
  return Ok{};
}

Result<SyntheticSet> synthesize_inputs(const Network& net, const SynthesisSettings& s,
                                       std::span<const BatchNormTarget> targets,
                                       const SynthesisProgress& progress) {
  if (auto st = check_synthesis(net, s); !st) return st.error();
  if (s.method == SynthesisMethod::ZeroQ && targets.empty())
    return make_error("zeroq needs the model's BatchNormalization statistics");
  auto bw = Backward::create(net);
  if (!bw) return make_error("input synthesis needs gradients: " + bw.error().message);
  const ValueInfo& in = net.model.inputs[0];
  const Shape sample(in.dims.begin() + 1, in.dims.end());
  const std::int64_t count = s.count(), per = numel(sample);
  // A fixed batch dimension fixes the batch.
  const std::int64_t batch = in.dims[0] > 0 ? in.dims[0] : std::min(s.batch, count);
  const std::int64_t chunks = (count + batch - 1) / batch;
  SyntheticSet out;
  Shape all = sample;
  all.insert(all.begin(), count);
  out.inputs = Tensor::zeros(all);
  for (std::int64_t k = 0; k < count; ++k) out.labels.push_back(k % s.classes);
  Shape bs = sample;
  bs.insert(bs.begin(), batch);
  const auto axes = spatial_axes(bs, channels_last(net));
  AdamSettings adam;
  adam.learning_rate = s.learning_rate;
  for (std::int64_t c = 0; c < chunks; ++c) {
    const std::int64_t start = c * batch, n = std::min(batch, count - start);
    // A last partial batch is padded with extra samples (noise of their own), then dropped.
    Tensor x = Tensor::zeros(bs);
    std::vector<std::int64_t> labels;
    for (std::int64_t k = 0; k < batch; ++k) {
      fill_noise(std::span<float>(x.f.data() + k * per, static_cast<std::size_t>(per)), s.seed,
                 start + k);
      labels.push_back((start + k) % s.classes);
    }
    Adam opt(adam, x.f.size());
    for (std::int64_t it = 0; it < s.iterations; ++it) {
      auto g = loss_gradient(*bw, net, s, targets, x, labels, axes);
      if (!g) return make_error("input synthesis: " + g.error().message);
      opt.step(std::span<float>(x.f.data(), x.f.size()), g->f);
      if (progress) progress(c * s.iterations + it + 1, chunks * s.iterations);
    }
    auto y = bw->forward(std::span<const Tensor>(&x, 1));
    if (!y) return make_error("input synthesis: " + y.error().message);
    const Tensor& logits = y->at(0);
    const auto predicted = predicted_labels(logits);
    const std::int64_t classes = logits.shape[1];
    for (std::int64_t k = 0; k < n; ++k) {
      std::int64_t& label = out.labels[static_cast<std::size_t>(start + k)];
      if (s.method == SynthesisMethod::ZeroQ) label = predicted[static_cast<std::size_t>(k)];
      out.on_target += predicted[static_cast<std::size_t>(k)] == label;
      const float* z = logits.f.data() + k * classes;
      const double m = *std::max_element(z, z + classes);
      double sum = 0;
      for (std::int64_t j = 0; j < classes; ++j) sum += std::exp(z[j] - m);
      out.mean_target_probability += std::exp(z[label] - m) / sum;
    }
    std::memcpy(out.inputs.f.data() + start * per, x.f.data(),
                static_cast<std::size_t>(n * per) * sizeof(float));
  }
  out.mean_target_probability /= static_cast<double>(count);
  return out;
}

}  // namespace mpq
