#include "phase1.hpp"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>

#include "adaround_cache.hpp"
#include "content_hash.hpp"
#include "core/atomic_file.hpp"
#include "plot.hpp"
#include "progress_meter.hpp"
#include "rank_correlation.hpp"
#include "sim/prepare.hpp"
#include "sweep_journal.hpp"

namespace mpq {
namespace {

std::string file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ContentHash h;
  h.add(bytes);
  return h.hex();
}

Result<std::string> samples_hash(const SampleSource& s, std::int64_t limit, std::int64_t batch) {
  ContentHash h;
  h.add(s.description);
  const std::int64_t count = std::min(limit, s.count);
  for (std::int64_t start = 0; start < count; start += batch) {
    const auto t = s.batch(start, std::min(batch, count - start));
    if (!t) return t.error();
    h.add_values(std::span<const float>(t->f.data(), t->f.size()));
  }
  h.add_values(std::span<const std::int64_t>(
      s.labels.data(), std::min<std::size_t>(s.labels.size(), static_cast<std::size_t>(count))));
  return h.hex();
}

// What the weights' integers depend on besides the model and the data.
std::string weight_rounding_base(const ExperimentSpec& x) {
  if (x.weight_rounding != "adaround") return x.weight_rounding;
  const AdaRoundOptions o = adaround_options_of(x);
  return "adaround float-inputs iterations=" + std::to_string(o.iterations) +
         " lambda=" + std::to_string(o.lambda) + " beta=" + std::to_string(o.beta_start) + ".." +
         std::to_string(o.beta_end) + " warmup=" + std::to_string(o.warmup) +
         " lr=" + std::to_string(o.learning_rate);
}

std::string weight_rounding_text(const ExperimentSpec& x) {
  if (x.bias_correction) return weight_rounding_base(x) + " + bias correction";
  return weight_rounding_base(x);
}

// The AdaRound cache's inputs: the sweep's minus what only the scores depend on.
std::map<std::string, std::string> adaround_key(const Phase1Context& ctx, const SweepKey& k) {
  std::map<std::string, std::string> parts;
  for (const char* p :
       {"mpq numerics", "model", "calibration data", "quantizer placement", "weight rounding"})
    parts[p] = k.parts.at(p);
  const ExperimentSpec& x = ctx.spec;
  ContentHash ranges;
  for (const auto& s : {x.weight_range, std::to_string(x.percentile), std::to_string(x.per_channel),
                        std::to_string(x.samples), std::to_string(x.batch)})
    ranges.add(s);
  parts["weight ranges"] = ranges.hex();
  return parts;
}

Result<SweepKey> sweep_key(const Phase1Context& ctx) {
  const ExperimentSpec& x = ctx.spec;
  SweepKey k;
  // Bumped whenever the simulator's numerics change, so results of an older mpq are not reused.
  k.parts["mpq numerics"] = "2";
  ContentHash model;
  model.add(file_hash(x.model));
  for (const auto& s : x.input_shapes) model.add(s);
  k.parts["model"] = model.hex();
  auto calibration = samples_hash(ctx.calibration, x.samples, x.batch);
  if (!calibration) return calibration.error();
  auto scoring = samples_hash(ctx.scoring, x.samples, x.batch);
  if (!scoring) return scoring.error();
  k.parts["calibration data"] = *calibration;
  k.parts["scoring data"] = *scoring;
  ContentHash placement;
  for (const auto& q : ctx.placement.quantizers) {
    placement.add(q.name);
    placement.add(std::to_string(static_cast<int>(q.kind)) + "/" + std::to_string(q.channel_axis) +
                  "/" + std::to_string(q.non_negative));
  }
  k.parts["quantizer placement"] = placement.hex();
  ContentHash settings;
  for (const auto& s :
       {x.mode, x.act_range, x.weight_range, x.bias, std::to_string(x.percentile),
        std::to_string(x.per_channel), std::to_string(x.samples), std::to_string(x.batch)})
    settings.add(s);
  if (ctx.mode == SweepMode::OthersBaseline)
    for (const auto& g : ctx.groups) settings.add(g.id + "=" + g.baseline.name());
  // Fisher tasks hold no output metrics, and the others no Fisher score: never mixed.
  if (ctx.metric == SensitivityMetric::Fisher) settings.add("metric fisher");
  k.parts["sweep settings"] = settings.hex();
  k.parts["weight rounding"] = weight_rounding_text(x);
  return k;
}

std::string metric_axis_label(SensitivityMetric m) {
  switch (m) {
    case SensitivityMetric::Sqnr:
      return "output SQNR (dB), higher = more robust";
    case SensitivityMetric::Accuracy:
      return "top-1 accuracy (%)";
    case SensitivityMetric::Agreement:
      return "top-1 agreement with FP32 (%)";
    case SensitivityMetric::Kl:
      return "KL(FP32 || quantized) (nats), lower = more robust";
    case SensitivityMetric::Mse:
      return "output MSE, lower = more robust";
    case SensitivityMetric::Alps:
      return "top-1 accuracy after recovery (bias correction + AdaRound) (%)";
    case SensitivityMetric::Eagl:
      return "EAGL score (bits - entropy), higher = more robust";
    case SensitivityMetric::Fisher:
      return "first-order loss change squared (Fisher), lower = more robust";
  }
  return "";
}

double raw_metric(const TaskResult& r, SensitivityMetric m) {
  if (m == SensitivityMetric::Kl) return r.metrics.kl;
  if (m == SensitivityMetric::Mse) return r.metrics.mse;
  if (m == SensitivityMetric::Fisher) return r.fisher;
  return robustness(r, m);
}

}  // namespace

namespace {

SweepInputs sweep_inputs(const Phase1Context& ctx, const SampleSource& samples,
                         const ActivationStats& stats, const RoundedWeights* rounded) {
  SweepInputs in;
  in.net = &ctx.net;
  in.placement = &ctx.placement;
  in.groups = ctx.groups;
  in.mode = ctx.mode;
  in.ranges = ctx.ranges;
  in.samples = &samples;
  in.limit = ctx.spec.samples;
  in.batch = ctx.spec.batch;
  in.stats = &stats;
  in.rounded = rounded;
  in.fisher = ctx.metric == SensitivityMetric::Fisher;
  return in;
}

SensitivityList build_list(const Phase1Context& ctx, std::vector<TaskResult> results) {
  SensitivityList list;
  list.metric = ctx.metric;
  for (const auto& a : ctx.accelerators) list.accelerators.push_back(a.acc.name);
  for (auto& r : results) {
    SensitivityEntry e;
    const SweepGroup& g = ctx.groups[r.group];
    e.bops_reduction = bops_reduction(ctx.net, ctx.placement, g, r.candidate);
    for (const auto& a : ctx.accelerators) {
      // Only an accelerator that has this group (groups its quantizers alike) prices the task.
      const auto ga = std::find(a.group_map.begin(), a.group_map.end(), r.group);
      const auto ci = a.acc.candidate_index(r.candidate);
      if (ga == a.group_map.end() || !ci) {
        e.latency_reduction_s.push_back(std::numeric_limits<double>::quiet_NaN());
        e.energy_reduction_j.push_back(std::numeric_limits<double>::quiet_NaN());
        continue;
      }
      const auto gi = static_cast<std::size_t>(ga - a.group_map.begin());
      const CostMetrics d = a.priced.table.delta(a.priced.baseline, gi, *ci);
      e.latency_reduction_s.push_back(0.0 - d.latency_s);  // 0.0 - x: no "-0" in the CSV
      e.energy_reduction_j.push_back(0.0 - d.energy_j);
    }
    e.result = std::move(r);
    list.entries.push_back(std::move(e));
  }
  sort_sensitivity(list);
  return list;
}

}  // namespace

Result<Phase1Result> run_phase1(const Phase1Context& ctx, const std::string& out_dir,
                                bool progress) {
  const auto t0 = std::chrono::steady_clock::now();
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return make_error("cannot create '" + out_dir + "': " + ec.message());
  const std::string path = out_dir + "/phase1.journal";
  const auto key = sweep_key(ctx);
  if (!key) return key.error();
  auto loaded = load_journal(path, *key, ctx.groups);
  if (!loaded) return loaded.error();
  Phase1Result out;
  out.notice = loaded->notice;
  if (ctx.spec.weight_rounding == "adaround" || ctx.spec.bias_correction) {
    auto cache =
        adaround_cache(ctx, adaround_key(ctx, *key), out_dir + "/adaround.journal", progress);
    if (!cache) return cache.error();
    if (!cache->notice.empty()) out.notice += (out.notice.empty() ? "" : "; ") + cache->notice;
    out.rounded = cache->weights;
    out.adaround_reused = cache->reused;
    out.adaround_computed = cache->computed;
    out.adaround_skipped = cache->skipped;
  }
  // Keep the cached tasks this run asks for; the others stay in the journal for later runs.
  std::vector<TaskResult> results;
  TaskKeys done;
  for (const auto& r : loaded->results) {
    const auto& cands = ctx.groups[r.group].candidates;
    const bool wanted = std::any_of(cands.begin(), cands.end(),
                                    [&](const Candidate& c) { return c == r.candidate; });
    if (wanted && done.insert({r.group, r.candidate}).second) results.push_back(r);
  }
  out.resumed = static_cast<std::int64_t>(results.size());
  auto writer = JournalWriter::start(path, *key, *loaded, ctx.groups);
  if (!writer) return writer.error();

  const SweepInputs in = sweep_inputs(ctx, ctx.scoring, ctx.stats, out.rounded.get());
  const std::int64_t total = count_tasks(ctx.groups);
  ProgressMeter meter("phase 1: tasks", total, progress);
  meter.set_already(out.resumed);
  std::int64_t finished = out.resumed;
  meter.update(finished);
  std::string journal_error;
  SweepCallbacks cb;
  cb.task_done = [&](const TaskResult& r) {
    if (auto st = writer->append(r, ctx.groups); !st && journal_error.empty())
      journal_error = st.error().message;
    meter.update(++finished);
  };
  auto fresh = run_sweep(in, done, cb);
  meter.finish();
  if (!fresh) return fresh.error();
  if (!journal_error.empty()) return make_error(journal_error);
  out.computed = static_cast<std::int64_t>(fresh->size());
  for (auto& r : *fresh) results.push_back(std::move(r));
  out.list = build_list(ctx, std::move(results));
  if (!ctx.scoring.labels.empty() && out.list.entries.size() >= 2 &&
      ctx.metric != SensitivityMetric::Fisher) {  // fisher tasks have no SQNR
    std::vector<double> sqnr, acc;
    for (const auto& e : out.list.entries) {
      if (e.result.metrics.failed()) continue;  // no SQNR to rank
      sqnr.push_back(e.result.metrics.sqnr_db);
      acc.push_back(e.result.metrics.accuracy.value_or(0.0));
    }
    out.labeled = true;
    out.tau_sqnr_vs_accuracy = kendall_tau_b(sqnr, acc);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

Result<std::optional<double>> calibration_stability(const Phase1Context& ctx,
                                                    const SensitivityList& list,
                                                    const std::string& other_calibration,
                                                    const RoundedWeights* rounded) {
  auto other = open_samples(ctx.spec.sample_spec(SampleSpec{other_calibration, {}}), ctx.net);
  if (!other) return make_error("--compare-calib: " + other.error().message);
  if (auto b = batch_size_for(ctx.net, ctx.spec.batch, std::min(ctx.spec.samples, other->count),
                              other->description);
      !b)
    return make_error("--compare-calib: " + b.error().message);
  auto stats =
      collect_activation_stats(ctx.net, ctx.placement, *other, ctx.spec.batch, ctx.spec.samples);
  if (!stats) return stats.error();
  const SweepInputs in = sweep_inputs(ctx, *other, *stats, rounded);
  auto results = run_sweep(in, {}, {});
  if (!results) return results.error();
  std::map<std::pair<std::size_t, Candidate>, double> score;
  for (const auto& r : *results) score[{r.group, r.candidate}] = robustness(r, list.metric);
  std::vector<double> a, b;
  for (const auto& e : list.entries) {
    a.push_back(e.score);
    b.push_back(score.at({e.result.group, e.result.candidate}));
  }
  return kendall_tau_b(a, b);
}

Status write_task_configs(const Phase1Context& ctx, const std::string& path,
                          const RoundedWeights* rounded) {
  if (ctx.mode != SweepMode::OthersFloat)
    return make_error("task configurations are written for --mode float only");
  const SweepInputs in = sweep_inputs(ctx, ctx.scoring, ctx.stats, rounded);
  QuantConfig none;
  none.bias_mode = ctx.ranges.bias;
  nlohmann::json tasks = nlohmann::json::object();
  for (const auto& g : ctx.groups)
    for (const auto& c : g.candidates) {
      nlohmann::json t = config_to_json(sweep_task_config(in, none, g, c));
      t["group"] = g.name;
      t["candidate"] = c.name();
      tasks[g.id + "|" + c.name()] = t;
    }
  return write_file_atomically(path, nlohmann::json{{"model", ctx.spec.model},
                                                    {"calibration", ctx.spec.calibration.text()},
                                                    {"samples", ctx.spec.samples},
                                                    {"tasks", tasks}}
                                             .dump() +
                                         "\n");
}

Status write_phase1_outputs(const Phase1Context& ctx, const Phase1Result& r,
                            const std::string& out_dir, bool plots) {
  if (auto st =
          write_file_atomically(out_dir + "/sensitivity.csv", sensitivity_csv(r.list, ctx.groups));
      !st)
    return st;
  nlohmann::json j = sensitivity_json(r.list, ctx.groups);
  j["model"] = ctx.spec.model;
  j["calibration"] = ctx.spec.calibration.text();
  j["samples"] = ctx.spec.samples;
  j["mode"] = ctx.spec.mode;
  if (r.labeled)  // null: undefined
    j["kendall_tau_sqnr_vs_accuracy"] =
        r.tau_sqnr_vs_accuracy ? nlohmann::json(*r.tau_sqnr_vs_accuracy) : nullptr;
  if (auto st = write_file_atomically(out_dir + "/sensitivity.json", j.dump(1) + "\n"); !st)
    return st;
  if (!plots) return Ok{};
  PlotSpec p;
  p.title = "Phase-1 sensitivity per quantizer group: " +
            std::filesystem::path(ctx.spec.model).filename().string();
  p.xlabel = "quantizer group (network order)";
  p.ylabel = metric_axis_label(r.list.metric);
  std::map<std::string, PlotSeries> by_candidate;
  for (const auto& e : r.list.entries) {
    PlotSeries& s = by_candidate[e.result.candidate.name()];
    s.title = e.result.candidate.name();
    s.style = "linespoints pointsize 1.2";
    s.x.push_back(static_cast<double>(e.result.group));
    s.y.push_back(raw_metric(e.result, r.list.metric));
  }
  for (auto& entry : by_candidate) {
    PlotSeries& s = entry.second;
    // Lines join groups in network order.
    std::vector<std::size_t> idx(s.x.size());
    for (std::size_t k = 0; k < idx.size(); ++k) idx[k] = k;
    std::sort(idx.begin(), idx.end(), [&](auto a, auto b) { return s.x[a] < s.x[b]; });
    PlotSeries sorted = s;
    for (std::size_t k = 0; k < idx.size(); ++k) {
      sorted.x[k] = s.x[idx[k]];
      sorted.y[k] = s.y[idx[k]];
    }
    p.series.push_back(std::move(sorted));
  }
  for (const auto& g : ctx.groups) p.xtic_labels.push_back(g.name);
  return render_plot(p, out_dir + "/sensitivity");
}

}  // namespace mpq
