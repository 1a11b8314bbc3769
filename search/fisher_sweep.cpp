#include "fisher_sweep.hpp"

#include <tbb/parallel_for.h>

#include <cmath>
#include <limits>
#include <mutex>

#include "sim/backward.hpp"
#include "sim/fake_quant.hpp"

namespace mpq {
namespace {

// Adds dot(a_n, b_n) of each sample's slice to dots[n]; a tensor without the batch axis (its
// first dimension is not the batch) counts as a whole into every sample's share evenly.
void add_sample_dots(const Tensor& a, const Tensor& b, std::vector<double>& dots) {
  const auto n = static_cast<std::int64_t>(dots.size());
  const std::int64_t size = a.size();
  if (a.rank() == 0 || a.shape[0] != n || size % n != 0) {
    double s = 0;
    for (std::int64_t e = 0; e < size; ++e) s += double(a.f[e]) * b.f[e];
    for (double& d : dots) d += s / static_cast<double>(n);
    return;
  }
  const std::int64_t per = size / n;
  for (std::int64_t k = 0; k < n; ++k) {
    double s = 0;
    for (std::int64_t e = k * per; e < (k + 1) * per; ++e) s += double(a.f[e]) * b.f[e];
    dots[static_cast<std::size_t>(k)] += s;
  }
}

// t - q elementwise, in place into q.
void subtract_from(const Tensor& t, Tensor& q) {
  for (std::size_t e = 0; e < q.f.size(); ++e) q.f[e] -= t.f[e];
}

struct Task {
  std::size_t group;
  const Candidate* candidate;
  QuantConfig cfg;
  double sum = 0;  // sum over samples of the squared first-order loss change
};

// One batch: the per-sample first-order loss change of one task, squared and summed.
Status add_task_batch(const SweepInputs& in, const Backward& bw, Task& task, std::int64_t n) {
  std::vector<double> dl(static_cast<std::size_t>(n), 0.0);
  const Network& net = *in.net;
  for (std::size_t qi : in.groups[task.group].quantizers) {
    const Quantizer& q = in.placement->quantizers[qi];
    auto it = task.cfg.quantizers.find(q.name);
    if (it == task.cfg.quantizers.end()) continue;  // float at this candidate: no change
    const QuantParams& p = it->second.params;
    if (q.kind == QuantizerKind::Activation) {
      const Tensor* y = bw.value(q.name);
      const Tensor* g = bw.grad(q.name);
      if (!y || !g) continue;  // no gradient reaches it: no first-order change
      Tensor dq;
      fake_quantize(*y, dq, p);
      subtract_from(*y, dq);
      add_sample_dots(*g, dq, dl);
      continue;
    }
    const Tensor& w = net.model.initializers.at(q.name);
    Tensor wq;
    fake_quantize(w, wq, p);
    for (std::size_t k : net.order) {
      const OpNode& node = net.node(k);
      std::vector<const Tensor*> ins;
      bool reads = false;
      for (const auto& name : node.inputs) {
        reads |= name == q.name;
        ins.push_back(name.empty() ? nullptr : name == q.name ? &wq : bw.value(name));
      }
      if (!reads || node.outputs.empty()) continue;
      const Tensor* z = bw.value(node.outputs[0]);
      const Tensor* g = bw.grad(node.outputs[0]);
      if (!z || !g) continue;
      std::vector<Tensor> outs(node.outputs.size());
      try {
        find_op(node.op_type)->run(OpContext{node, net.model.opset}, ins, outs);
      } catch (const std::exception& e) {
        return make_error(node.label() + ": " + e.what());
      }
      subtract_from(*z, outs[0]);
      add_sample_dots(*g, outs[0], dl);
    }
  }
  for (const double d : dl) task.sum += d * d;
  return Ok{};
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
  auto bw = Backward::create(*in.net);
  if (!bw) return make_error("the fisher metric needs gradients: " + bw.error().message);
  QuantConfig none;
  none.bias_mode = in.ranges.bias;
  // Calibrating the tasks' ranges (MSE searches) is the larger part: in parallel over groups.
  std::vector<std::vector<Task>> per_group(in.groups.size());
  tbb::parallel_for(std::size_t{0}, in.groups.size(), [&](std::size_t gi) {
    SettingCache settings;
    for (const auto& c : in.groups[gi].candidates)
      if (!done.count({gi, c}))
        per_group[gi].push_back({gi, &c, sweep_task_config(in, none, in.groups[gi], c, &settings)});
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
    std::vector<std::string> errors(tasks.size());
    tbb::parallel_for(std::size_t{0}, tasks.size(), [&](std::size_t t) {
      if (auto st = add_task_batch(in, *bw, tasks[t], n); !st) errors[t] = st.error().message;
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
