#include "prepare.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "engine.hpp"
#include "graph/onnx_import.hpp"
#include "memory_plan.hpp"
#include "nonfinite.hpp"
#include "op_registry.hpp"

namespace mpq {

Status check_supported(const Model& model) {
  std::map<std::string, std::vector<std::string>> unsupported;
  std::vector<std::string> rejected;
  for (const auto& n : model.nodes) {
    const OpSpec* spec = find_op(n.op_type);
    if (!spec) {
      unsupported[n.op_type].push_back(n.name.empty() ? n.outputs.at(0) : n.name);
      continue;
    }
    if (spec->validate)
      if (auto msg = spec->validate(n, model.opset)) rejected.push_back(n.label() + ": " + *msg);
  }
  if (unsupported.empty() && rejected.empty()) return Ok{};
  std::string msg;
  if (!unsupported.empty()) {
    msg = "the model uses ops mpq does not support:";
    for (const auto& [op, names] : unsupported) {
      msg += "\n  " + op + " (" + std::to_string(names.size()) + " node" +
             (names.size() > 1 ? "s" : "") + ": ";
      for (std::size_t k = 0; k < names.size() && k < 8; ++k) msg += (k ? ", " : "") + names[k];
      if (names.size() > 8) msg += ", ...";
      msg += ")";
    }
  }
  if (!rejected.empty()) {
    if (!msg.empty()) msg += "\n";
    msg += "unsupported attribute values:";
    for (const auto& r : rejected) msg += "\n  " + r;
  }
  return make_error(msg);
}

namespace {

bool static_shape(const Model& m, const std::string& tensor, Shape& out) {
  if (auto it = m.initializers.find(tensor); it != m.initializers.end()) {
    out = it->second.shape;
    return true;
  }
  const ValueInfo* vi = m.find_value(tensor);
  if (!vi || !vi->has_shape) return false;
  for (auto d : vi->dims)
    if (d < 0) return false;
  out = vi->dims;
  return true;
}

// Nodes whose result depends on more than their inputs are never folded.
bool foldable(const OpNode& n) {
  static const std::set<std::string> never = {"RandomNormal",     "RandomUniform",
                                              "RandomNormalLike", "RandomUniformLike",
                                              "Multinomial",      "Bernoulli"};
  return !never.count(n.op_type);
}

}  // namespace

Result<int> fold_constants(Model& m) {
  std::set<std::string> outputs;
  for (const auto& o : m.outputs) outputs.insert(o.name);
  int removed = 0;
  bool changed = true;
  while (changed) {
    changed = false;
    for (std::size_t k = 0; k < m.nodes.size(); ++k) {
      const OpNode& n = m.nodes[k];
      if (!foldable(n)) continue;
      bool graph_output = false;
      for (const auto& o : n.outputs) graph_output |= outputs.count(o) != 0;
      if (graph_output) continue;  // keep the op that computes an output
      std::vector<Tensor> results;
      if (n.op_type == "Shape") {
        Shape s;
        if (n.inputs.empty() || !static_shape(m, n.inputs[0], s)) continue;
        const auto r = static_cast<std::int64_t>(s.size());
        auto clamp = [r](std::int64_t v) {
          return std::clamp(v < 0 ? v + r : v, std::int64_t{0}, r);
        };
        const std::int64_t start = clamp(n.attr_int("start", 0));
        const std::int64_t end = clamp(n.attr_int("end", r));
        results.push_back(Tensor::from_ints(
            std::vector<std::int64_t>(s.begin() + start, s.begin() + std::max(start, end))));
      } else {
        bool all_const = true;
        for (const auto& in : n.inputs) all_const &= in.empty() || m.is_constant(in);
        if (!all_const) continue;
        const OpSpec* spec = find_op(n.op_type);
        if (!spec) continue;
        std::vector<const Tensor*> ins;
        for (const auto& in : n.inputs)
          ins.push_back(in.empty() ? nullptr : &m.initializers.at(in));
        results.resize(n.outputs.size());
        try {
          spec->run(OpContext{n, m.opset}, ins, results);
        } catch (const std::exception& e) {
          return make_error(n.label() + " (constant folding): " + e.what());
        }
      }
      for (std::size_t o = 0; o < n.outputs.size() && o < results.size(); ++o)
        if (!n.outputs[o].empty()) m.initializers[n.outputs[o]] = std::move(results[o]);
      m.nodes.erase(m.nodes.begin() + static_cast<std::ptrdiff_t>(k));
      ++removed;
      changed = true;
      break;
    }
  }
  m.drop_unused_initializers();  // e.g. the intermediates of folded chains
  return removed;
}

Result<std::vector<Tensor>> make_example_inputs(const Model& model, std::int64_t batch) {
  std::vector<Tensor> ins;
  for (const auto& vi : model.inputs) {
    if (!vi.has_shape)
      return make_error("input '" + vi.name +
                        "' has no declared shape; give one with --input-shape " + vi.name +
                        ":D1xD2x...");
    Shape s = vi.dims;
    for (std::size_t d = 0; d < s.size(); ++d) {
      if (s[d] >= 0) continue;
      if (d == 0) {
        s[d] = batch;
        continue;
      }
      const std::string param = d < vi.dim_params.size() ? vi.dim_params[d] : "";
      return make_error("input '" + vi.name + "' dimension " + std::to_string(d) +
                        (param.empty() ? "" : " ('" + param + "')") +
                        " is dynamic; give the shape with --input-shape " + vi.name + ":" +
                        "D1xD2x...");
    }
    ins.push_back(Tensor::zeros(s, vi.dtype));
  }
  return ins;
}

namespace {

// Every tensor's shape and type, from a dry run at batch 1 with the engine's folds off, so
// that every intermediate is computed (the canonicalization matchers read their shapes).
Status infer_shapes(Network& net) {
  if (auto st = check_dry_run_memory(net.model); !st) return st;
  auto inputs = make_example_inputs(net.model, 1);
  if (!inputs) return inputs.error();
  auto engine = Engine::create(net);
  if (!engine) return engine.error();
  engine->set_fusion(false);
  auto out = engine->run(*inputs);
  if (!out) return make_error("shape inference failed: " + out.error().message);
  engine->record_shapes(net);
  return Ok{};
}

}  // namespace

Result<Network> prepare_network(Model model, const PrepareOptions& opts,
                                CanonicalizationReport* canonical) {
  if (auto st = check_supported(model); !st) return st.error();
  if (!opts.allow_nonfinite)
    if (auto st = check_finite_weights(model); !st) return st.error();
  if (opts.fold_constants)
    if (auto r = fold_constants(model); !r) return r.error();
  if (opts.fold_batchnorm) fold_batchnorm(model);
  auto net = build_network(std::move(model), find_op_traits);
  if (!net) return net.error();
  if (opts.infer_shapes) {
    if (auto st = infer_shapes(*net); !st) return st.error();
    if (opts.canonicalize) {
      Model m = net->model;
      CanonicalizationReport report = canonicalize(m, net->shapes);
      if (!report.rewrites.empty()) {
        net = build_network(std::move(m), find_op_traits);
        if (!net) return make_error("canonicalization: " + net.error().message);
        if (auto st = infer_shapes(*net); !st) return st.error();
      }
      if (canonical) *canonical = std::move(report);
    }
  }
  compute_op_stats(*net);
  return net;
}

Result<Network> load_network(const std::string& path, const std::vector<std::string>& input_shapes,
                             const PrepareOptions& prepare, CanonicalizationReport* canonical) {
  ImportOptions opts;
  for (const auto& spec : input_shapes) {
    auto s = parse_input_shape(spec);
    if (!s) return s.error();
    opts.input_shapes[s->first] = s->second;
  }
  auto model = load_onnx(path, opts);
  if (!model) return model.error();
  auto net = prepare_network(std::move(model).value(), prepare, canonical);
  if (!net) return make_error(path + ": " + net.error().message);
  return net;
}

}  // namespace mpq
