#include "fisher_sweep.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

#include "sim/backward.hpp"
#include "sim/fake_quant.hpp"

namespace mpq {
namespace {

// The samples of a batch as [n, per] rows of a tensor; rows = 0 when its first dimension is not
// the batch (a tensor without the batch axis counts as a whole into every sample evenly).
struct SampleRows {
  std::int64_t rows = 0, per = 0;
};
SampleRows sample_rows(const Tensor& t, std::int64_t n) {
  const std::int64_t size = t.size();
  if (t.rank() == 0 || t.shape[0] != n || size % n != 0) return {};
  return {n, size / n};
}

// dots[k] += sum over sample k's elements of g * (Q(y) - y), quantizing chunk by chunk on the
// stack (no allocation) when the quantizer maps elements on their own.
void add_quantization_dots(const Tensor& y, const Tensor& g, const QuantParams& p,
                           std::vector<double>& dots) {
  const auto n = static_cast<std::int64_t>(dots.size());
  const SampleRows r = sample_rows(y, n);
  if (!p.elementwise() || r.rows == 0) {
    Tensor q;
    fake_quantize(y, q, p);
    double whole = 0;
    for (std::int64_t k = 0; k < (r.rows ? n : 1); ++k) {
      const std::int64_t b = r.rows ? k * r.per : 0, e = r.rows ? b + r.per : y.size();
      double s = 0;
      for (std::int64_t i = b; i < e; ++i) s += double(g.f[i]) * (q.f[i] - y.f[i]);
      if (r.rows)
        dots[static_cast<std::size_t>(k)] += s;
      else
        whole = s;
    }
    if (!r.rows)
      for (double& d : dots) d += whole / static_cast<double>(n);
    return;
  }
  constexpr std::int64_t kChunk = 256;
  float buf[kChunk];
  for (std::int64_t k = 0; k < n; ++k) {
    double s = 0;
    for (std::int64_t b = k * r.per; b < (k + 1) * r.per; b += kChunk) {
      const std::int64_t len = std::min(kChunk, (k + 1) * r.per - b);
      std::copy(y.f.begin() + b, y.f.begin() + b + len, buf);
      fake_quantize(std::span<float>(buf, static_cast<std::size_t>(len)), p);
      for (std::int64_t i = 0; i < len; ++i) s += double(g.f[b + i]) * (buf[i] - y.f[b + i]);
    }
    dots[static_cast<std::size_t>(k)] += s;
  }
}

// dots[k] += <delta, rows[k]> for per-sample weight gradients rows ([n, |W|]).
void add_weight_dots(const Tensor& delta, const Tensor& rows, std::vector<double>& dots) {
  const std::int64_t size = delta.size();
  for (std::size_t k = 0; k < dots.size(); ++k) {
    const float* r = rows.f.data() + static_cast<std::int64_t>(k) * size;
    double s = 0;
    for (std::int64_t e = 0; e < size; ++e) s += double(delta.f[e]) * r[e];
    dots[k] += s;
  }
}

// dots[k] += sum over sample k's elements of a * b (see SampleRows for tensors without it).
void add_sample_dots(const Tensor& a, const Tensor& b, std::vector<double>& dots) {
  const auto n = static_cast<std::int64_t>(dots.size());
  const SampleRows r = sample_rows(a, n);
  if (r.rows == 0) {
    double s = 0;
    for (std::int64_t e = 0; e < a.size(); ++e) s += double(a.f[e]) * b.f[e];
    for (double& d : dots) d += s / static_cast<double>(n);
    return;
  }
  for (std::int64_t k = 0; k < n; ++k) {
    double s = 0;
    for (std::int64_t e = k * r.per; e < (k + 1) * r.per; ++e) s += double(a.f[e]) * b.f[e];
    dots[static_cast<std::size_t>(k)] += s;
  }
}

// A weight quantizer of a task at its candidate: the quantized weight and its change.
struct WeightChange {
  std::size_t quantizer;
  Tensor quantized, delta;
};

struct Task {
  std::size_t group;
  const Candidate* candidate;
  QuantConfig cfg;
  std::vector<WeightChange> weights;  // computed once, used by every batch
  double sum = 0;                     // sum over samples of the squared first-order loss change
};

// Per batch: each sample's own weight gradient, by (weight name, consumer node), for the
// consumers where that is one GEMM per sample (sim/backward.hpp); others rerun their kernel.
using SampleGrads = std::map<std::pair<std::string, std::size_t>, Tensor>;

// The nodes that read each weight quantizer's tensor, in network order.
std::map<std::string, std::vector<std::size_t>> weight_consumers(const SweepInputs& in) {
  std::map<std::string, std::vector<std::size_t>> out;
  for (const Quantizer& q : in.placement->quantizers)
    if (q.kind == QuantizerKind::Weight)
      for (std::size_t k : in.net->order) {
        const OpNode& node = in.net->node(k);
        if (!node.outputs.empty() &&
            std::find(node.inputs.begin(), node.inputs.end(), q.name) != node.inputs.end())
          out[q.name].push_back(k);
      }
  return out;
}

// Consumer `k` rerun with the quantized weight: dots[n] += dL/dz_n . (z(Q(W))_n - z_n).
Status add_rerun_dots(const SweepInputs& in, const Backward& bw, const std::string& weight,
                      const Tensor& quantized, std::size_t k, std::vector<double>& dots) {
  const OpNode& node = in.net->node(k);
  const Tensor* z = bw.value(node.outputs[0]);
  const Tensor* g = bw.grad(node.outputs[0]);
  if (!z || !g) return Ok{};  // no gradient reaches it: no first-order change
  std::vector<const Tensor*> ins;
  for (const auto& name : node.inputs)
    ins.push_back(name.empty() ? nullptr : name == weight ? &quantized : bw.value(name));
  std::vector<Tensor> outs(node.outputs.size());
  try {
    find_op(node.op_type)->run(OpContext{node, in.net->model.opset}, ins, outs);
  } catch (const std::exception& e) {
    return make_error(node.label() + ": " + e.what());
  }
  for (std::size_t e = 0; e < outs[0].f.size(); ++e) outs[0].f[e] -= z->f[e];
  add_sample_dots(*g, outs[0], dots);
  return Ok{};
}

// One batch: the per-sample first-order loss change of one task, squared and summed.
Status add_task_batch(const SweepInputs& in, const Backward& bw, const SampleGrads& grads,
                      const std::map<std::string, std::vector<std::size_t>>& consumers, Task& task,
                      std::int64_t n) {
  std::vector<double> dl(static_cast<std::size_t>(n), 0.0);
  for (std::size_t qi : in.groups[task.group].quantizers) {
    const Quantizer& q = in.placement->quantizers[qi];
    if (q.kind != QuantizerKind::Activation) continue;
    auto it = task.cfg.quantizers.find(q.name);
    if (it == task.cfg.quantizers.end()) continue;  // float at this candidate: no change
    const Tensor* y = bw.value(q.name);
    const Tensor* g = bw.grad(q.name);
    if (y && g) add_quantization_dots(*y, *g, it->second.params, dl);
  }
  for (const WeightChange& w : task.weights) {
    const std::string& name = in.placement->quantizers[w.quantizer].name;
    for (std::size_t k : consumers.at(name)) {
      if (auto it = grads.find({name, k}); it != grads.end()) {
        add_weight_dots(w.delta, it->second, dl);
      } else if (auto st = add_rerun_dots(in, bw, name, w.quantized, k, dl); !st) {
        return st;
      }
    }
  }
  for (const double d : dl) task.sum += d * d;
  return Ok{};
}

// The quantized weights of a task and their changes.
void prepare_weights(const SweepInputs& in, Task& task) {
  for (std::size_t qi : in.groups[task.group].quantizers) {
    const Quantizer& q = in.placement->quantizers[qi];
    if (q.kind != QuantizerKind::Weight) continue;
    auto it = task.cfg.quantizers.find(q.name);
    if (it == task.cfg.quantizers.end()) continue;
    WeightChange w{qi, {}, {}};
    const Tensor& wt = in.net->model.initializers.at(q.name);
    fake_quantize(wt, w.quantized, it->second.params);
    w.delta = w.quantized;
    for (std::size_t e = 0; e < w.delta.f.size(); ++e) w.delta.f[e] -= wt.f[e];
    task.weights.push_back(std::move(w));
  }
}

// The values whose gradients the tasks read: quantized activations and weight consumers'
// outputs.
std::vector<std::string> wanted_gradients(
    const SweepInputs& in, const std::map<std::string, std::vector<std::size_t>>& consumers) {
  std::vector<std::string> out;
  for (const Quantizer& q : in.placement->quantizers)
    if (q.kind == QuantizerKind::Activation) out.push_back(q.name);
  for (const auto& [name, nodes] : consumers)
    for (std::size_t k : nodes) out.push_back(in.net->node(k).outputs[0]);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Each sample's weight gradient of every quantized weight whose consumer allows it.
SampleGrads sample_grads(const SweepInputs& in, const Backward& bw,
                         const std::map<std::string, std::vector<std::size_t>>& consumers) {
  SampleGrads out;
  for (const auto& [name, nodes] : consumers)
    for (std::size_t k : nodes) {
      const OpNode& node = in.net->node(k);
      const Tensor* g = bw.grad(node.outputs[0]);
      if (!g) continue;
      std::vector<const Tensor*> ins;
      for (const auto& input : node.inputs)
        ins.push_back(input.empty() ? nullptr : bw.value(input));
      const auto at = static_cast<std::size_t>(
          std::find(node.inputs.begin(), node.inputs.end(), name) - node.inputs.begin());
      if (auto rows = per_sample_weight_grads(node, ins, *g, at)) out[{name, k}] = std::move(*rows);
    }
  return out;
}

}  // namespace

Status check_fisher_applicable(const Network& net) {
  if (net.model.outputs.empty()) return make_error("the model has no output");
  const std::string& out = net.model.outputs[0].name;
  auto s = net.shapes.find(out);
  if (s == net.shapes.end() || s->second.size() != 2 || s->second[1] < 2)
    return make_error(
        "the fisher metric needs a classifier: its loss is the cross-entropy of output 0 ('" + out +
        "') as [N, classes] logits, but that output has shape " +
        (s == net.shapes.end() ? std::string("unknown") : shape_str(s->second)) +
        " (use sqnr, agreement, kl, mse or eagl for this model)");
  auto bw = Backward::create(net);
  if (!bw) return make_error("the fisher metric needs gradients: " + bw.error().message);
  return Ok{};
}

Result<std::vector<TaskResult>> run_fisher_sweep(const SweepInputs& in, const TaskKeys& done,
                                                 const SweepCallbacks& cb) {
  const std::int64_t count =
      std::min(in.limit < 0 ? in.samples->count : in.limit, in.samples->count);
  if (count <= 0) return make_error(in.samples->description + ": no samples");
  const auto consumers = weight_consumers(in);
  const auto wanted = wanted_gradients(in, consumers);
  auto bw = Backward::create(*in.net, wanted);
  if (!bw) return make_error("the fisher metric needs gradients: " + bw.error().message);
  QuantConfig none;
  none.bias_mode = in.ranges.bias;
  // Calibrating the tasks' ranges (MSE searches) is the larger part: in parallel over groups.
  std::vector<std::vector<Task>> per_group(in.groups.size());
  tbb::parallel_for(std::size_t{0}, in.groups.size(), [&](std::size_t gi) {
    SettingCache settings;
    for (const auto& c : in.groups[gi].candidates)
      if (!done.count({gi, c}))
        per_group[gi].push_back(
            {gi, &c, sweep_task_config(in, none, in.groups[gi], c, &settings), {}, 0.0});
    for (Task& t : per_group[gi]) prepare_weights(in, t);
  });
  std::vector<Task> tasks;
  for (auto& g : per_group)
    for (auto& t : g) tasks.push_back(std::move(t));
  const bool labeled = !in.samples->labels.empty();
  for (std::int64_t start = 0; start < count && !tasks.empty(); start += in.batch) {
    const std::int64_t n = std::min(in.batch, count - start);
    auto batch = in.samples->batch(start, n);
    if (!batch) return batch.error();
    std::vector<Tensor> x{std::move(batch).value()};
    auto y = bw->forward(x);
    if (!y) return make_error(in.samples->description + ": " + y.error().message);
    const Tensor& logits = y->at(0);
    if (logits.rank() != 2 || logits.shape[0] != n)
      return make_error(
          "the fisher metric needs a classifier: output 0 must be [N, classes] logits, but it "
          "has shape " +
          shape_str(logits.shape));
    std::vector<std::int64_t> labels =
        labeled ? std::vector<std::int64_t>(in.samples->labels.begin() + start,
                                            in.samples->labels.begin() + start + n)
                : predicted_labels(logits);
    auto ce = cross_entropy(logits, labels);
    if (!ce) return make_error(in.samples->description + ": " + ce.error().message);
    std::vector<Tensor> seeds(y->size());
    seeds[0] = std::move(ce->grad);
    if (auto st = bw->backward(seeds); !st) return st.error();
    const SampleGrads grads = sample_grads(in, *bw, consumers);
    std::vector<std::string> errors(tasks.size());
    tbb::parallel_for(std::size_t{0}, tasks.size(), [&](std::size_t t) {
      if (auto st = add_task_batch(in, *bw, grads, consumers, tasks[t], n); !st)
        errors[t] = st.error().message;
    });
    for (const auto& e : errors)
      if (!e.empty()) return make_error("fisher sensitivity: " + e);
  }
  std::vector<TaskResult> results;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const Task& t : tasks) {
    TaskResult r;
    r.group = t.group;
    r.candidate = *t.candidate;
    r.metrics.samples = count;
    r.metrics.sqnr_db = r.metrics.agreement = r.metrics.kl = r.metrics.mse = nan;
    r.eagl = eagl_score(*in.net, *in.placement, in.groups[t.group], r.candidate, t.cfg);
    r.fisher = t.sum;
    if (cb.task_done) cb.task_done(r);
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace mpq
