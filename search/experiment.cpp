#include "experiment.hpp"

#include <filesystem>

#include "core/strict_yaml.hpp"
#include "synthetic_data.hpp"

namespace mpq {
namespace {

using mpq::Bound;
using mpq::StrictMap;

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || std::filesystem::path(p).is_absolute()) return p;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

// A data spec is either a named data set ("fashion-mnist:...") or a file path.
std::string resolve_data(const std::string& base_dir, const std::string& spec) {
  return spec.find(':') != std::string::npos && spec.find('/') == std::string::npos
             ? spec
             : resolve(base_dir, spec);
}

void read_choice(StrictMap& m, const std::string& key, std::string& out,
                 std::initializer_list<const char*> allowed, YamlIssues& issues) {
  auto v = m.string(key, false);
  if (!v) return;
  for (const char* a : allowed)
    if (*v == a) {
      out = *v;
      return;
    }
  std::string list;
  for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  issues.add(m.node()[key].Mark(), m.path_of(key),
             "expected one of " + list + ", got '" + *v + "'");
}

// data.*.preprocess: what it declares overrides the model's mpq.input.* metadata.
std::optional<std::vector<float>> read_floats(StrictMap& m, const std::string& key, Bound bound,
                                              YamlIssues& issues) {
  if (!m.has(key)) return std::nullopt;
  const YAML::Node n = m.get(key, false);
  std::vector<float> out;
  if (!n.IsSequence()) {
    if (auto v = read_number(n, m.path_of(key), bound, issues))
      out.push_back(static_cast<float>(*v));
  } else {
    for (std::size_t k = 0; k < n.size(); ++k)
      if (auto v = read_number(n[k], m.path_of(key), bound, issues))
        out.push_back(static_cast<float>(*v));
  }
  if (out.empty()) return std::nullopt;
  return out;
}

DeclaredPreprocess read_preprocess(const YAML::Node& node, const std::string& path,
                                   YamlIssues& issues) {
  StrictMap m(node, path, issues);
  DeclaredPreprocess p;
  if (m.has("resize")) p.resize = m.integer("resize", false, Bound::Positive);
  if (m.has("crop")) p.crop = m.integer("crop", false, Bound::Positive);
  if (m.has("scale")) p.scale = m.number("scale", false, Bound::Positive);
  p.mean = read_floats(m, "mean", Bound::Any, issues);
  p.std = read_floats(m, "std", Bound::Positive, issues);
  std::string channels, layout;
  read_choice(m, "channels", channels, {"gray", "RGB", "BGR"}, issues);
  read_choice(m, "layout", layout, {"NCHW", "NHWC"}, issues);
  if (!channels.empty()) p.channels = channels;
  if (!layout.empty()) p.layout = layout;
  m.finish();
  return p;
}

// A data spec alone, or {source: SPEC, labels: LABELS, preprocess: {...}}: labels for an .npy
// (integers) or a flat image folder (CSV), preprocessing for an image folder.
SampleSpec read_samples(StrictMap& data, const std::string& key, bool required,
                        const std::string& dir, YamlIssues& issues) {
  const YAML::Node n = data.get(key, required);
  if (!n.IsDefined()) return {};
  if (!n.IsMap()) {
    SampleSpec s{resolve_data(dir, data.string(key, false).value_or("")), {}};
    if (is_synthetic_spec(s.data))
      if (auto spec = parse_synthetic_spec(s.data); !spec)
        issues.add(n.Mark(), data.path_of(key), spec.error().message);
    return s;
  }
  StrictMap m(n, data.path_of(key), issues);
  SampleSpec s;
  s.data = resolve_data(dir, m.string("source", true).value_or(""));
  s.labels = resolve(dir, m.string("labels", false).value_or(""));
  if (m.has("preprocess"))
    s.preprocess = read_preprocess(m.get("preprocess", false), m.path_of("preprocess"), issues);
  m.finish();
  return s;
}

void read_data(StrictMap& root, const std::string& dir, ExperimentSpec& x, YamlIssues& issues) {
  YAML::Node d = root.get("data", true);
  if (!d.IsDefined()) return;
  StrictMap m(d, "data", issues);
  x.calibration = read_samples(m, "calibration", true, dir, issues);
  x.sensitivity_data = read_samples(m, "sensitivity", false, dir, issues);
  x.evaluation = read_samples(m, "evaluation", false, dir, issues);
  m.finish();
}

void read_accelerators(StrictMap& root, const std::string& dir, ExperimentSpec& x,
                       YamlIssues& issues) {
  if (!root.has("accelerators")) return;
  auto list = read_string_list(root.get("accelerators", false), "accelerators", issues);
  for (const auto& a : list.value_or(std::vector<std::string>{})) {
    x.accelerators.push_back(resolve(dir, a));
    if (!std::filesystem::exists(x.accelerators.back()))
      issues.add(root.node()["accelerators"].Mark(), "accelerators",
                 "file '" + x.accelerators.back() + "' does not exist");
  }
}

void read_sensitivity(StrictMap& root, ExperimentSpec& x, YamlIssues& issues) {
  YAML::Node s = root.get("sensitivity", false);
  if (!s.IsDefined()) return;
  StrictMap m(s, "sensitivity", issues);
  read_choice(m, "metric", x.metric,
              {"sqnr", "accuracy", "agreement", "kl", "mse", "eagl", "fisher", "alps"}, issues);
  read_choice(m, "mode", x.mode, {"float", "baseline"}, issues);
  x.samples = m.integer("samples", false, Bound::Positive).value_or(256);
  x.batch = m.integer("batch", false, Bound::Positive).value_or(64);
  m.finish();
}

void read_ranges(StrictMap& root, ExperimentSpec& x, YamlIssues& issues) {
  YAML::Node r = root.get("ranges", false);
  if (!r.IsDefined()) return;
  StrictMap m(r, "ranges", issues);
  read_choice(m, "activations", x.act_range, {"enhanced", "mse", "minmax", "percentile"}, issues);
  read_choice(m, "weights", x.weight_range, {"enhanced", "mse", "minmax", "percentile"}, issues);
  read_choice(m, "bias", x.bias, {"int32", "float"}, issues);
  read_choice(m, "weight_rounding", x.weight_rounding, {"nearest", "adaround"}, issues);
  x.adaround_iters = m.integer("adaround_iters", false, Bound::Positive).value_or(10000);
  x.percentile = m.number("percentile", false, Bound::Positive).value_or(99.99);
  x.per_channel = m.boolean("per_channel", false).value_or(true);
  x.bias_correction = m.boolean("bias_correction", false).value_or(false);
  m.finish();
}

// search.budgets: the fractions of the baseline's cost, listed or as a range.
BudgetSweep read_budgets(YAML::Node b, YamlIssues& issues) {
  StrictMap bm(b, "search.budgets", issues);
  BudgetSweep sweep;
  read_choice(bm, "metric", sweep.metric, {"bops", "memory", "latency", "energy"}, issues);
  sweep.accelerator = bm.string("accelerator", false).value_or("");
  if (bm.has("fractions")) {
    YAML::Node f = bm.get("fractions", false);
    if (!f.IsSequence() || f.size() == 0)
      issues.add(f.Mark(), "search.budgets.fractions", "expected a non-empty list of numbers");
    else
      for (std::size_t k = 0; k < f.size(); ++k)
        if (auto v = read_number(f[k], "search.budgets.fractions", Bound::Positive, issues))
          sweep.fractions.push_back(*v);
  } else if (YAML::Node r = bm.get("range", false); r.IsDefined()) {
    StrictMap rm(r, "search.budgets.range", issues);
    const double from = rm.number("from", true, Bound::Positive).value_or(1);
    const double to = rm.number("to", true, Bound::Positive).value_or(1);
    const double step = rm.number("step", true, Bound::Positive).value_or(1);
    rm.finish();
    for (double v = from; v <= to + 1e-9 && sweep.fractions.size() < 1000; v += step)
      sweep.fractions.push_back(v);
  } else {
    issues.add(b.Mark(), "search.budgets", "give fractions: [...] or range: {from, to, step}");
  }
  bm.finish();
  return sweep;
}

void read_search(StrictMap& root, ExperimentSpec& x, YamlIssues& issues) {
  YAML::Node s = root.get("search", false);
  if (!s.IsDefined()) return;
  StrictMap m(s, "search", issues);
  read_choice(m, "phase2_metric", x.phase2_metric, {"accuracy", "sqnr"}, issues);
  if (m.has("accuracy_drop"))
    x.accuracy_drop = m.number("accuracy_drop", false, Bound::NonNegative);
  if (YAML::Node b = m.get("budgets", false); b.IsDefined()) x.budgets = read_budgets(b, issues);
  if (m.has("homogeneous"))
    x.homogeneous = read_string_list(m.get("homogeneous", false), "search.homogeneous", issues)
                        .value_or(std::vector<std::string>{});
  m.finish();
}

}  // namespace

Result<ExperimentSpec> load_experiment(const std::string& path) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return make_error("cannot read experiment file '" + path + "'");
  } catch (const YAML::Exception& e) {
    return make_error(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  YamlIssues issues(path);
  ExperimentSpec x;
  x.source = path;
  StrictMap root(doc, "", issues);
  if (!root.is_map()) return make_error(issues.joined());
  x.model = resolve(dir, root.string("model", true).value_or(""));
  if (!x.model.empty() && !std::filesystem::exists(x.model))
    issues.add(root.node()["model"].Mark(), "model", "file '" + x.model + "' does not exist");
  if (root.has("input_shapes"))
    x.input_shapes = read_string_list(root.get("input_shapes", false), "input_shapes", issues)
                         .value_or(std::vector<std::string>{});
  read_data(root, dir, x, issues);
  read_accelerators(root, dir, x, issues);
  if (root.has("candidates"))
    x.candidates = read_string_list(root.get("candidates", false), "candidates", issues)
                       .value_or(std::vector<std::string>{});
  read_sensitivity(root, x, issues);
  read_ranges(root, x, issues);
  read_search(root, x, issues);
  x.output = resolve(dir, root.string("output", false).value_or(""));
  x.allow_nonfinite = root.boolean("allow_nonfinite", false).value_or(false);
  root.finish();
  if (!issues.empty()) return make_error(issues.joined());
  return x;
}

}  // namespace mpq
