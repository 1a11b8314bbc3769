#include "batchnorm_targets.hpp"

#include <cmath>

#include "graph/onnx_import.hpp"
#include "prepare.hpp"

namespace mpq {

Result<std::vector<BatchNormTarget>> expose_batchnorm_inputs(Model& m) {
  std::vector<BatchNormTarget> out;
  for (const OpNode& n : m.nodes) {
    if (n.op_type != "BatchNormalization" || n.inputs.size() < 5) continue;
    bool constant = true;
    for (std::size_t k = 1; k < 5; ++k) constant &= m.is_constant(n.inputs[k]);
    if (!constant || n.attr_int("training_mode", 0) != 0) continue;
    const auto& mean = m.initializers.at(n.inputs[3]).f;
    const auto& var = m.initializers.at(n.inputs[4]).f;
    if (mean.size() != var.size() || mean.empty()) continue;
    BatchNormTarget t;
    t.node = n.label();
    t.input = n.inputs[0];
    t.epsilon = n.attr_float("epsilon", 1e-5f);
    t.mean.assign(mean.begin(), mean.end());
    for (const float v : var) t.std.push_back(std::sqrt(v + t.epsilon));
    out.push_back(std::move(t));
  }
  if (out.empty())
    return make_error(
        "the model has no BatchNormalization with running statistics: zeroq matches them, and "
        "they are not in this ONNX file (exporters often fold them into the convolutions); use "
        "--method lee, which needs none");
  for (const BatchNormTarget& t : out) {
    bool listed = false;
    for (const ValueInfo& o : m.outputs) listed |= o.name == t.input;
    if (!listed) m.outputs.push_back(ValueInfo{t.input, DType::Float32, {}, {}, false});
  }
  return out;
}

Result<Network> load_network_with_batchnorm(const std::string& path,
                                            const std::vector<std::string>& input_shapes,
                                            bool allow_nonfinite,
                                            std::vector<BatchNormTarget>& targets) {
  ImportOptions opts;
  for (const auto& spec : input_shapes) {
    auto s = parse_input_shape(spec);
    if (!s) return s.error();
    opts.input_shapes[s->first] = s->second;
  }
  auto model = load_onnx(path, opts);
  if (!model) return model.error();
  auto found = expose_batchnorm_inputs(*model);
  if (!found) return make_error(path + ": " + found.error().message);
  targets = std::move(found).value();
  PrepareOptions prep;
  prep.fold_batchnorm = false;
  prep.allow_nonfinite = allow_nonfinite;
  auto net = prepare_network(std::move(model).value(), prep);
  if (!net) return make_error(path + ": " + net.error().message);
  return net;
}

double batchnorm_matching_loss(std::span<const Tensor* const> values,
                               std::span<const BatchNormTarget> targets,
                               std::vector<Tensor>* grads) {
  if (grads) grads->assign(targets.size(), Tensor{});
  double total = 0;
  const double layers = static_cast<double>(targets.size());
  for (std::size_t l = 0; l < targets.size(); ++l) {
    const Tensor& x = *values[l];
    const BatchNormTarget& t = targets[l];
    const auto c = static_cast<std::int64_t>(t.mean.size());
    const std::int64_t n = x.shape[0], inner = x.size() / (n * c);
    const double count = static_cast<double>(n * inner);
    std::vector<double> mean(static_cast<std::size_t>(c), 0.0), sd(mean);
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t ch = 0; ch < c; ++ch) {
        const float* p = x.f.data() + (b * c + ch) * inner;
        for (std::int64_t e = 0; e < inner; ++e) mean[static_cast<std::size_t>(ch)] += p[e];
      }
    for (double& m : mean) m /= count;
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t ch = 0; ch < c; ++ch) {
        const float* p = x.f.data() + (b * c + ch) * inner;
        const double m = mean[static_cast<std::size_t>(ch)];
        for (std::int64_t e = 0; e < inner; ++e)
          sd[static_cast<std::size_t>(ch)] += (p[e] - m) * (p[e] - m);
      }
    double loss = 0;
    for (std::size_t ch = 0; ch < sd.size(); ++ch) {
      sd[ch] = std::sqrt(sd[ch] / count + t.epsilon);
      loss += (mean[ch] - t.mean[ch]) * (mean[ch] - t.mean[ch]) +
              (sd[ch] - t.std[ch]) * (sd[ch] - t.std[ch]);
    }
    total += loss / static_cast<double>(c) / layers;
    if (!grads) continue;
    Tensor& g = (*grads)[l];
    g = Tensor::zeros(x.shape);
    const double scale = 2.0 / (static_cast<double>(c) * layers * count);
    for (std::int64_t b = 0; b < n; ++b)
      for (std::int64_t ch = 0; ch < c; ++ch) {
        const auto k = static_cast<std::size_t>(ch);
        const double dm = mean[k] - t.mean[k], ds = (sd[k] - t.std[k]) / sd[k];
        const float* p = x.f.data() + (b * c + ch) * inner;
        float* q = g.f.data() + (b * c + ch) * inner;
        for (std::int64_t e = 0; e < inner; ++e)
          q[e] = static_cast<float>(scale * (dm + ds * (p[e] - mean[k])));
      }
  }
  return total;
}

}  // namespace mpq
