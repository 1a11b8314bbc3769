#include "adaround_layers.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <type_traits>

#include "engine.hpp"
#include "quantized_engine.hpp"

namespace mpq {
namespace {

// A weight as rows x fan_in, a row per output channel: Conv [O, ...] and Gemm with transB are
// stored that way; Gemm without transB and MatMul [K, N] hold an output channel per column.
struct RowLayout {
  std::int64_t rows = 0, fan_in = 0;
  bool transposed = false;
};

RowLayout row_layout(const OpNode& op, const Tensor& w, std::int64_t fan_in) {
  RowLayout l;
  l.fan_in = fan_in;
  l.rows = w.size() / fan_in;
  l.transposed = op.op_type == "MatMul" || (op.op_type == "Gemm" && op.attr_int("transB", 0) == 0);
  return l;
}

std::size_t tensor_index(const RowLayout& l, std::int64_t r, std::int64_t k) {
  return static_cast<std::size_t>(l.transposed ? k * l.rows + r : r * l.fan_in + k);
}

using RowsF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// sums += A^T B for n x f row blocks A and B (float products, summed into double per call).
void add_product(const float* a, const float* b, std::int64_t n, std::int64_t f, double* sums) {
  const Eigen::Map<const RowsF> pa(a, n, f), pb(b, n, f);
  const Eigen::MatrixXf g = pa.transpose() * pb;
  Eigen::Map<Eigen::MatrixXd>(sums, f, f) += g.cast<double>();
}

// sums (groups x fan_in) += the op's input vectors of one batch, per group.
void add_row_sums(const OpNode& op, const Shape& weight, const Tensor& input,
                  std::vector<double>& sums) {
  const InputLayout l = input_layout(op, weight);
  sums.resize(static_cast<std::size_t>(l.groups * l.fan_in), 0.0);
  for_each_input_chunk(op, weight, input, [&](std::int64_t g, const float* r, std::int64_t n) {
    const Eigen::Map<const RowsF> rows(r, n, l.fan_in);
    Eigen::Map<Eigen::VectorXd>(sums.data() + g * l.fan_in, l.fan_in) +=
        rows.colwise().sum().transpose().cast<double>();
  });
}

Status run_prefix(Engine& e, const Tensor& x, std::size_t end) {
  if (auto st = e.set_inputs(std::span<const Tensor>(&x, 1)); !st) return st;
  return e.run_steps(0, end);
}

// Every target's input moments from one pass of the float network over samples [0, count).
Status float_moments(const Network& net, std::span<const Quantizer* const> targets,
                     const SampleSource& samples, std::int64_t count, std::int64_t batch,
                     std::vector<LayerMoments>& out) {
  auto engine = Engine::create(net);
  if (!engine) return engine.error();
  std::vector<InputMoments> sums(targets.size());
  std::vector<std::vector<double>> means(targets.size());
  std::map<std::string, std::vector<std::size_t>> readers;  // tensor -> targets reading it
  for (std::size_t i = 0; i < targets.size(); ++i)
    readers[net.model.nodes[targets[i]->node].inputs[0]].push_back(i);
  for (const auto& [tensor, list] : readers) {
    // `list = list`: Clang 14 (the fuzz build) cannot capture a structured binding.
    auto st = engine->set_hook(tensor, [&, list = list](Tensor& t) {
      for (std::size_t i : list) {
        const OpNode& op = net.model.nodes[targets[i]->node];
        const Shape& shape = net.model.initializers.at(targets[i]->name).shape;
        accumulate_input_moments(op, shape, t, sums[i]);
        add_row_sums(op, shape, t, means[i]);
      }
    });
    if (!st) return st;
  }
  std::vector<Tensor> in(1);
  for (std::int64_t start = 0; start < count; start += batch) {
    auto x = samples.batch(start, std::min(batch, count - start));
    if (!x) return x.error();
    in[0] = std::move(*x);
    if (auto r = engine->run(in); !r)
      return make_error(samples.description + ": " + r.error().message);
  }
  out.resize(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    out[i].groups = sums[i].groups;
    out[i].fan_in = sums[i].fan_in;
    out[i].vectors = sums[i].vectors;
    out[i].aa = std::move(sums[i].sums);
    out[i].sum_x = std::move(means[i]);
  }
  return Ok{};
}

// One target's moments with x' from the network quantized by `cfg` up to it.
Result<LayerMoments> quantized_moments(const Network& net, const QuantConfig& cfg,
                                       const Quantizer& q, const SampleSource& samples,
                                       std::int64_t batch) {
  const OpNode& op = net.model.nodes[q.node];
  const Shape& wshape = net.model.initializers.at(q.name).shape;
  const std::string& tensor = op.inputs[0];
  auto fp = Engine::create(net);
  if (!fp) return fp.error();
  auto qe = Engine::create(net);
  if (!qe) return qe.error();
  const QuantizedConstants constants = quantize_constants(net, cfg);
  if (auto st = attach_config(*qe, cfg, constants); !st) return st.error();
  Tensor x, xq;
  if (auto st = fp->set_hook(tensor, [&x](Tensor& t) { x = t; }); !st) return st.error();
  const auto aq = cfg.quantizers.find(tensor);
  const QuantParams* p = aq != cfg.quantizers.end() && aq->second.kind == QuantizerKind::Activation
                             ? &aq->second.params
                             : nullptr;
  auto capture = [&xq, p](Tensor& t) {
    if (p) fake_quantize(t, *p);
    xq = t;
  };
  if (auto st = qe->set_hook(tensor, capture); !st) return st.error();
  LayerMoments m;
  const InputLayout layout = input_layout(op, wshape);
  m.groups = layout.groups;
  m.fan_in = layout.fan_in;
  const auto size = static_cast<std::size_t>(m.groups * m.fan_in * m.fan_in);
  m.aa.assign(size, 0.0), m.ax.assign(size, 0.0), m.xx.assign(size, 0.0);
  const std::size_t end = fp->first_reader_step(tensor);
  for (std::int64_t start = 0; start < samples.count; start += batch) {
    const auto read = samples.batch(start, std::min(batch, samples.count - start));
    if (!read) return read.error();
    const Tensor& in = *read;
    if (auto st = run_prefix(*fp, in, end); !st)
      return make_error(samples.description + ": " + st.error().message);
    if (auto st = run_prefix(*qe, in, end); !st)
      return make_error(samples.description + ": " + st.error().message);
    add_row_sums(op, wshape, x, m.sum_x);
    add_row_sums(op, wshape, xq, m.sum_given);
    std::vector<std::vector<float>> rows(static_cast<std::size_t>(m.groups));
    for_each_input_chunk(op, wshape, x, [&](std::int64_t g, const float* r, std::int64_t n) {
      rows[static_cast<std::size_t>(g)].insert(rows[static_cast<std::size_t>(g)].end(), r,
                                               r + n * m.fan_in);
    });
    std::vector<std::int64_t> offset(static_cast<std::size_t>(m.groups), 0);
    for_each_input_chunk(op, wshape, xq, [&](std::int64_t g, const float* r, std::int64_t n) {
      const float* fx =
          rows[static_cast<std::size_t>(g)].data() + offset[static_cast<std::size_t>(g)] * m.fan_in;
      const std::size_t at = static_cast<std::size_t>(g * m.fan_in * m.fan_in);
      add_product(r, r, n, m.fan_in, m.aa.data() + at);
      add_product(r, fx, n, m.fan_in, m.ax.data() + at);
      add_product(fx, fx, n, m.fan_in, m.xx.data() + at);
      offset[static_cast<std::size_t>(g)] += n;
    });
    m.vectors += offset[0];
  }
  return m;
}

// A weight's rows with each row's scale and zero point.
struct LayerRows {
  RowLayout layout;
  std::vector<float> weights, scale;
  std::vector<std::int32_t> zero;
};

LayerRows gather_rows(const OpNode& op, const Tensor& w, std::int64_t fan_in,
                      const QuantParams& p) {
  LayerRows out;
  const RowLayout l = out.layout = row_layout(op, w, fan_in);
  out.weights.resize(static_cast<std::size_t>(l.rows * l.fan_in));
  for (std::int64_t r = 0; r < l.rows; ++r) {
    for (std::int64_t k = 0; k < l.fan_in; ++k)
      out.weights[static_cast<std::size_t>(r * l.fan_in + k)] = w.f[tensor_index(l, r, k)];
    const auto c = static_cast<std::size_t>(p.per_channel() ? r : 0);
    out.scale.push_back(p.scale[c]);
    out.zero.push_back(p.zero_point[c]);
  }
  return out;
}

// Per group: A = aa / n and the rows' targets t_r = (ax / n) w_r; `constant` sums the rows'
// w_r^T (xx / n) w_r, the part of the output error no rounding changes.
struct GroupTargets {
  std::vector<std::vector<double>> a, t;
  double constant = 0;
};

GroupTargets group_targets(const LayerMoments& m, const LayerRows& rows) {
  const std::int64_t f = m.fan_in, per_group = rows.layout.rows / m.groups;
  const double n = static_cast<double>(std::max<std::int64_t>(1, m.vectors));
  GroupTargets out;
  for (std::int64_t g = 0; g < m.groups; ++g) {
    const auto at = static_cast<std::size_t>(g * f * f);
    using Map = Eigen::Map<const Eigen::MatrixXd>;
    const Map aa(m.aa.data() + at, f, f);
    const Map ax((m.ax.empty() ? m.aa : m.ax).data() + at, f, f);
    const Map xx((m.xx.empty() ? m.aa : m.xx).data() + at, f, f);
    std::vector<double>& a = out.a.emplace_back(static_cast<std::size_t>(f * f));
    Eigen::Map<Eigen::MatrixXd>(a.data(), f, f) = aa / n;
    std::vector<double>& t = out.t.emplace_back(static_cast<std::size_t>(per_group * f));
    for (std::int64_t r = 0; r < per_group; ++r) {
      const float* w = rows.weights.data() + (g * per_group + r) * f;
      const Eigen::VectorXd wr = Eigen::Map<const Eigen::VectorXf>(w, f).cast<double>();
      Eigen::Map<Eigen::VectorXd>(t.data() + r * f, f) = ax * wr / n;
      out.constant += wr.dot(xx * wr) / n;
    }
  }
  return out;
}

// The rounding of one layer from its moments; writes integer_weights into `s`.
LayerRounding round_layer(const Network& net, const Quantizer& q, const LayerMoments& m,
                          QuantizerSetting& s, const AdaRoundOptions& o) {
  const Tensor& w = net.model.initializers.at(q.name);
  const LayerRows rows = gather_rows(net.model.nodes[q.node], w, m.fan_in, s.params);
  const GroupTargets targets = group_targets(m, rows);
  const std::int64_t f = m.fan_in, per_group = rows.layout.rows / m.groups;
  const auto span_of = [&](const auto& v, std::int64_t g, std::int64_t per_row) {
    using T = typename std::decay_t<decltype(v)>::value_type;
    return std::span<const T>(v).subspan(static_cast<std::size_t>(g * per_group * per_row),
                                         static_cast<std::size_t>(per_group * per_row));
  };
  std::vector<RoundingRows> problems;
  for (std::int64_t g = 0; g < m.groups; ++g) {
    RoundingRows pr;
    pr.rows = per_group;
    pr.fan_in = f;
    pr.weights = span_of(rows.weights, g, f);
    pr.scale = span_of(rows.scale, g, 1);
    pr.zero_point = span_of(rows.zero, g, 1);
    pr.qmin = s.params.qmin;
    pr.qmax = s.params.qmax;
    pr.input_moments = targets.a[static_cast<std::size_t>(g)];
    pr.target = targets.t[static_cast<std::size_t>(g)];
    problems.push_back(pr);
  }
  const std::vector<RoundingResult> results = adaround(problems, o);
  LayerRounding out{q.name, w.size(), targets.constant, targets.constant, rows.layout.rows, 0};
  s.integer_weights.assign(static_cast<std::size_t>(w.size()), 0);
  for (std::int64_t g = 0; g < m.groups; ++g) {
    const RoundingResult& res = results[static_cast<std::size_t>(g)];
    out.nearest_error += res.nearest_loss;
    out.adaround_error += res.adaround_loss;
    out.channels_kept_nearest += res.rows_kept_nearest;
    for (std::int64_t r = 0; r < per_group; ++r)
      for (std::int64_t k = 0; k < f; ++k)
        s.integer_weights[tensor_index(rows.layout, g * per_group + r, k)] =
            res.codes[static_cast<std::size_t>(r * f + k)];
  }
  return out;
}

// Per output channel: w_r . E[x] - w_q,r . E[x'], the mean the quantized weights take off the
// layer's output (Nagel et al. 2019, empirical bias correction).
std::vector<float> channel_offsets(const Network& net, const Quantizer& q, const LayerMoments& m,
                                   const QuantizerSetting& s) {
  const Tensor& w = net.model.initializers.at(q.name);
  Tensor wq;
  if (s.integer_weights.empty())
    fake_quantize(w, wq, s.params);
  else
    dequantize(s.integer_weights, w.shape, s.params, wq);
  const RowLayout l = row_layout(net.model.nodes[q.node], w, m.fan_in);
  const std::int64_t per_group = l.rows / m.groups;
  const auto& given = m.sum_given.empty() ? m.sum_x : m.sum_given;
  const double n = static_cast<double>(m.vectors);
  std::vector<float> out(static_cast<std::size_t>(l.rows));
  for (std::int64_t r = 0; r < l.rows; ++r) {
    const std::size_t at = static_cast<std::size_t>((r / per_group) * m.fan_in);
    double d = 0;
    for (std::int64_t k = 0; k < m.fan_in; ++k) {
      const std::size_t i = tensor_index(l, r, k);
      d += static_cast<double>(w.f[i]) * m.sum_x[at + static_cast<std::size_t>(k)] -
           static_cast<double>(wq.f[i]) * given[at + static_cast<std::size_t>(k)];
    }
    out[static_cast<std::size_t>(r)] = static_cast<float>(d / n);
  }
  return out;
}

}  // namespace

std::string correctable_bias(const Network& net, const Quantizer& q) {
  const OpNode& op = net.model.nodes[q.node];
  if (op.inputs.size() < 3 || op.inputs[2].empty()) return "";
  const auto b = net.model.initializers.find(op.inputs[2]);
  const Tensor& w = net.model.initializers.at(q.name);
  const std::int64_t channels =
      input_layout(op, w.shape).fan_in > 0 ? w.size() / input_layout(op, w.shape).fan_in : 0;
  if (b == net.model.initializers.end() || !b->second.is_float() || b->second.size() != channels)
    return "";
  return op.inputs[2];
}

Result<std::vector<float>> corrected_bias(const Network& net, const Quantizer& q,
                                          const LayerMoments& m, const QuantizerSetting& s,
                                          const std::string& data) {
  if (m.vectors == 0 || m.sum_x.empty())
    return make_error("bias correction: no calibration data reaches the input of weight '" +
                      q.name + "' (" + data + ")");
  const std::string name = correctable_bias(net, q);
  const Tensor& original = net.model.initializers.at(name);
  std::vector<float> b(original.f.begin(), original.f.end());
  const std::vector<float> d = channel_offsets(net, q, m, s);
  for (std::size_t c = 0; c < b.size(); ++c) b[c] += d[c];
  return b;
}

std::string adaround_unsupported(const Network& net, const Quantizer& q) {
  const OpNode& op = net.model.nodes[q.node];
  const Shape& shape = net.model.initializers.at(q.name).shape;
  if (!supports_input_moments(op, shape))
    return op.op_type + " weight of shape " + shape_str(shape) +
           " (AdaRound covers Conv, Gemm and 2-D MatMul weights of at most " +
           std::to_string(kMaxMomentFanIn) + " inputs per output channel)";
  if (op.inputs.empty() || net.model.is_constant(op.inputs[0])) return "its input is a constant";
  return "";
}

Result<std::vector<const Quantizer*>> adaround_targets(const Network& net,
                                                       const QuantizerPlacement& placement,
                                                       const QuantConfig& cfg,
                                                       std::vector<std::string>* skipped,
                                                       bool rounding) {
  std::vector<const Quantizer*> targets;
  for (std::size_t k : net.order)
    for (const auto& q : placement.quantizers) {
      if (q.kind != QuantizerKind::Weight || q.node != k) continue;
      const auto s = cfg.quantizers.find(q.name);
      if (s == cfg.quantizers.end() || s->second.params.format.is_identity()) continue;
      const NumberFormat f = s->second.params.format;
      if (!f.is_int() && rounding)
        return make_error("AdaRound chooses between two integers: weight quantizer '" + q.name +
                          "' is at " + f.name() +
                          " (give integer weight formats, or "
                          "--weight-rounding nearest)");
      if (const std::string why = adaround_unsupported(net, q); !why.empty()) {
        if (skipped) skipped->push_back(q.name + ": " + why);
        continue;
      }
      targets.push_back(&q);
    }
  return targets;
}

Result<std::vector<LayerMoments>> float_input_moments(const Network& net,
                                                      std::span<const Quantizer* const> targets,
                                                      const SampleSource& samples,
                                                      std::int64_t count, std::int64_t batch) {
  std::vector<LayerMoments> out;
  if (auto st = float_moments(net, targets, samples, std::min(count, samples.count), batch, out);
      !st)
    return st.error();
  return out;
}

Result<LayerRounding> adaround_weight(const Network& net, const Quantizer& q, const LayerMoments& m,
                                      QuantizerSetting& s, const AdaRoundOptions& o,
                                      const std::string& data) {
  if (m.vectors == 0)
    return make_error("AdaRound: no calibration data reaches the input of weight '" + q.name +
                      "' (" + data + ")");
  return round_layer(net, q, m, s, o);
}

Result<AdaRoundReport> adaround_config(const Network& net, const QuantizerPlacement& placement,
                                       QuantConfig& cfg, const SampleSource& samples,
                                       std::int64_t batch, const AdaRoundSettings& settings,
                                       const Progress& progress) {
  AdaRoundReport report;
  auto targets = adaround_targets(net, placement, cfg, &report.skipped, settings.round);
  if (!targets) return targets.error();
  const auto total = static_cast<std::int64_t>(targets->size());
  std::vector<LayerMoments> moments;
  if (settings.inputs == AdaRoundInputs::Float)
    if (auto st = float_moments(net, *targets, samples, samples.count, batch, moments); !st)
      return st.error();
  for (std::int64_t i = 0; i < total; ++i) {
    const Quantizer& q = *(*targets)[static_cast<std::size_t>(i)];
    LayerMoments m;
    if (settings.inputs == AdaRoundInputs::Float) {
      m = std::move(moments[static_cast<std::size_t>(i)]);
    } else {
      auto qm = quantized_moments(net, cfg, q, samples, batch);
      if (!qm) return qm.error();
      m = std::move(qm).value();
    }
    QuantizerSetting& s = cfg.quantizers.at(q.name);
    if (settings.round) {
      auto layer = adaround_weight(net, q, m, s, settings.optimiser, samples.description);
      if (!layer) return layer.error();
      report.layers.push_back(std::move(layer).value());
    }
    if (settings.bias_correction) {
      const std::string bias = correctable_bias(net, q);
      if (bias.empty()) {
        report.skipped.push_back(q.name + ": no bias of one value per output channel to correct");
      } else {
        auto b = corrected_bias(net, q, m, s, samples.description);
        if (!b) return b.error();
        cfg.corrected_biases[bias] = std::move(b).value();
        report.corrected_biases += 1;
      }
    }
    if (progress) progress(i + 1, total);
  }
  return report;
}

}  // namespace mpq
