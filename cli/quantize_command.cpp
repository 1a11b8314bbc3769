// `mpq quantize`: calibrate a configuration (one candidate for every quantizer, or the formats
// of a given configuration), measure it against the float model, and write it as JSON.
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "commands.hpp"
#include "common.hpp"
#include "hardware_args.hpp"
#include "sim/adaround_layers.hpp"
#include "sim/calibration.hpp"
#include "sim/nonfinite.hpp"
#include "sim/quant_metrics.hpp"
#include "sim/quant_metrics_json.hpp"
#include "sim/quantized_engine.hpp"
#include "sim/range_explain.hpp"

namespace mpq::cli {
namespace {

struct QuantizeArgs {
  ModelArgs model;
  CommonArgs common;
  std::string candidate, config, calib = "fashion-mnist:train:512", data, labels, output;
  std::string act_range = "enhanced", weight_range = "enhanced", act_scheme = "asymmetric",
              weight_scheme = "symmetric", bias = "int32";
  float percentile = 99.99f;
  bool per_tensor = false, explain = false;
  std::int64_t batch = 32;
  std::string weight_rounding = "nearest", adaround_inputs = "quantized";
  AdaRoundOptions adaround;
  bool bias_correction = false;
};

std::string short_number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

Result<std::optional<AdaRoundSettings>> rounding_settings(const QuantizeArgs& a) {
  if (a.weight_rounding != "nearest" && a.weight_rounding != "adaround")
    return make_error("--weight-rounding must be nearest or adaround, not '" + a.weight_rounding +
                      "'");
  if (a.weight_rounding == "nearest" && !a.bias_correction)
    return std::optional<AdaRoundSettings>{};
  if (a.adaround_inputs != "float" && a.adaround_inputs != "quantized")
    return make_error("--adaround-inputs must be float or quantized, not '" + a.adaround_inputs +
                      "'");
  const AdaRoundOptions& o = a.adaround;
  if (o.iterations < 1) return make_error("--adaround-iters must be at least 1");
  if (!(o.lambda >= 0) || !(o.learning_rate > 0) || !(o.warmup >= 0 && o.warmup < 1) ||
      !(o.beta_start >= 1) || !(o.beta_end >= 1))
    return make_error(
        "AdaRound settings out of range: --adaround-lambda >= 0, --adaround-lr > 0, "
        "--adaround-warmup in [0, 1), betas >= 1");
  AdaRoundSettings r;
  r.optimiser = o;
  r.inputs = a.adaround_inputs == "float" ? AdaRoundInputs::Float : AdaRoundInputs::Quantized;
  r.round = a.weight_rounding == "adaround";
  r.bias_correction = a.bias_correction;
  return std::optional<AdaRoundSettings>(r);
}

Result<QuantScheme> parse_scheme(const std::string& s, const char* flag) {
  if (s == "symmetric") return QuantScheme::Symmetric;
  if (s == "asymmetric") return QuantScheme::Asymmetric;
  return make_error(std::string(flag) + " must be symmetric or asymmetric, not '" + s + "'");
}

Result<RangeSettings> range_settings(const QuantizeArgs& a) {
  RangeSettings r;
  auto am = parse_range_method(a.act_range);
  if (!am) return make_error("--act-range: " + am.error().message);
  auto wm = parse_range_method(a.weight_range);
  if (!wm) return make_error("--weight-range: " + wm.error().message);
  auto as = parse_scheme(a.act_scheme, "--act-scheme");
  if (!as) return as.error();
  auto ws = parse_scheme(a.weight_scheme, "--weight-scheme");
  if (!ws) return ws.error();
  if (a.bias != "int32" && a.bias != "float")
    return make_error("--bias must be int32 or float, not '" + a.bias + "'");
  if (!(a.percentile > 50.0f && a.percentile <= 100.0f))
    return make_error("--percentile must be in (50, 100]");
  r.activation_method = *am;
  r.weight_method = *wm;
  r.activation_scheme = *as;
  r.weight_scheme = *ws;
  r.percentile = a.percentile;
  r.per_channel_weights = !a.per_tensor;
  r.bias = a.bias == "int32" ? BiasMode::Int32 : BiasMode::Float;
  return r;
}

Progress stderr_progress(bool enabled, const char* what) {
  if (!enabled) return {};
  return [what](std::int64_t done, std::int64_t total) {
    std::fprintf(stderr, "\r%s: %lld / %lld", what, static_cast<long long>(done),
                 static_cast<long long>(total));
    if (done == total) std::fprintf(stderr, "\n");
  };
}

nlohmann::json explain_json(const std::vector<RangeChoice>& rows) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json e = {{"quantizer", r.quantizer},
                        {"kind", r.kind == QuantizerKind::Weight ? "weight" : "activation"},
                        {"format", r.format},
                        {"method", range_method_name(r.method)},
                        {"basis", r.basis},
                        {"range", {r.lo, r.hi}},
                        {"observed", {r.observed_lo, r.observed_hi}},
                        {"clipped_percent", r.clipped_percent}};
    if (r.kind == QuantizerKind::Weight)
      e["channels"] = {{"total", r.channels}, {"narrowed", r.channels_clipped}};
    j.push_back(e);
  }
  return j;
}

void print_explanation(const std::vector<RangeChoice>& rows) {
  std::printf("%-44s %-4s %-7s %-23s %25s %25s %9s\n", "quantizer", "kind", "format", "method",
              "range", "observed", "clipped %");
  for (const auto& r : rows) {
    std::string name = r.quantizer;
    if (name.size() > 44) name = "..." + name.substr(name.size() - 41);
    char range[64], seen[64];
    std::snprintf(range, sizeof range, "[%.4g, %.4g]", r.lo, r.hi);
    std::snprintf(seen, sizeof seen, "[%.4g, %.4g]", r.observed_lo, r.observed_hi);
    const std::string method =
        std::string(range_method_name(r.method)) + (r.basis.empty() ? "" : " (" + r.basis + ")");
    std::printf("%-44s %-4s %-7s %-23s %25s %25s %9.4f", name.c_str(),
                r.kind == QuantizerKind::Weight ? "w" : "a", r.format.c_str(), method.c_str(),
                range, seen, r.clipped_percent);
    if (r.kind == QuantizerKind::Weight && r.channels > 1)
      std::printf("  (%d of %d channels narrowed)", r.channels_clipped, r.channels);
    std::printf("\n");
  }
}

// The formats asked for: one candidate everywhere, or those of a given configuration.
struct RequestedFormats {
  std::map<std::string, NumberFormat> formats;
  std::string label;
};

Result<RequestedFormats> requested_formats(const QuantizeArgs& a, const Network& net,
                                           const QuantizerPlacement& placement) {
  RequestedFormats r;
  if (!a.candidate.empty()) {
    auto c = parse_candidate(a.candidate);
    if (!c) return c.error();
    r.formats = uniform_formats(placement, *c);
    r.label = c->name();
    return r;
  }
  auto given = read_config(a.config, net, placement);
  if (!given) return given.error();
  for (const auto& [name, s] : given->quantizers) r.formats[name] = s.params.format;
  r.label = a.config;
  return r;
}

struct Calibrated {
  ActivationStats stats;
  QuantConfig cfg;
  std::int64_t batch = 0;
};

Result<Calibrated> calibrate(const QuantizeArgs& a, const Network& net,
                             const QuantizerPlacement& placement, const RequestedFormats& req,
                             const RangeSettings& settings, bool tty) {
  auto calib = open_samples(samples_of(a.model, SampleSpec{a.calib, {}}), net);
  if (!calib) return make_error("--calib: " + calib.error().message);
  auto batch = batch_size_for(net, a.batch, calib->count, "--calib " + a.calib);
  if (!batch) return batch.error();
  auto stats = collect_activation_stats(net, placement, *calib, *batch, -1,
                                        stderr_progress(tty, "calibrating"));
  if (!stats) return stats.error();
  auto cfg = calibrate_config(net, placement, req.formats, *stats, settings);
  if (!cfg) return cfg.error();
  cfg->notes["configuration"] = req.label;
  cfg->notes["calibration_data"] = a.calib;
  cfg->input_shapes = a.model.input_shapes;
  return Calibrated{std::move(stats).value(), std::move(cfg).value(), *batch};
}

// AdaRound of the calibrated configuration's weights on the calibration samples.
Result<AdaRoundReport> round_weights(const QuantizeArgs& a, const Network& net,
                                     const QuantizerPlacement& placement, Calibrated& c,
                                     const AdaRoundSettings& settings, bool tty) {
  auto calib = open_samples(samples_of(a.model, SampleSpec{a.calib, {}}), net);
  if (!calib) return make_error("--calib: " + calib.error().message);
  auto report = adaround_config(
      net, placement, c.cfg, *calib, c.batch, settings,
      stderr_progress(tty, settings.round ? "AdaRound (layers)" : "bias correction"));
  if (!report) return report.error();
  if (settings.bias_correction)
    c.cfg.notes["bias_correction"] = "empirical, per output channel (" + a.adaround_inputs +
                                     " inputs, " + std::to_string(report->corrected_biases) +
                                     " layers)";
  if (!settings.round) return report;
  const AdaRoundOptions& o = settings.optimiser;
  c.cfg.notes["weight_rounding"] =
      "adaround (" + a.adaround_inputs + " inputs, " + std::to_string(o.iterations) +
      " iterations, lambda " + short_number(o.lambda) + ", beta " + short_number(o.beta_start) +
      " -> " + short_number(o.beta_end) + ", warm-up " + short_number(o.warmup) + ", Adam lr " +
      short_number(o.learning_rate) + ")";
  return report;
}

nlohmann::json rounding_json(const AdaRoundReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : r.layers)
    layers.push_back({{"quantizer", l.quantizer},
                      {"weights", l.weights},
                      {"output_error_nearest", l.nearest_error},
                      {"output_error_adaround", l.adaround_error},
                      {"channels", l.channels},
                      {"channels_kept_nearest", l.channels_kept_nearest}});
  return {
      {"layers", layers}, {"left_at_nearest", r.skipped}, {"corrected_biases", r.corrected_biases}};
}

void print_rounding(const AdaRoundReport& r) {
  if (r.corrected_biases > 0)
    std::printf("bias correction: %lld layers' biases corrected\n",
                static_cast<long long>(r.corrected_biases));
  if (r.layers.empty()) return;
  std::printf(
      "AdaRound: output error on the calibration samples (mean squared, summed over "
      "channels), nearest -> adaround\n");
  for (const auto& l : r.layers) {
    std::string name = l.quantizer;
    if (name.size() > 44) name = "..." + name.substr(name.size() - 41);
    std::printf("  %-44s %8lld weights  %11.4e -> %11.4e", name.c_str(),
                static_cast<long long>(l.weights), l.nearest_error, l.adaround_error);
    if (l.channels_kept_nearest > 0)
      std::printf("  (%lld of %lld channels kept nearest)",
                  static_cast<long long>(l.channels_kept_nearest),
                  static_cast<long long>(l.channels));
    std::printf("\n");
  }
  for (const auto& s : r.skipped) std::printf("  left at nearest: %s\n", s.c_str());
}

// The configuration against the float model on `eval_spec`; a run that breaks is an error.
Result<QuantMetrics> evaluate(const QuantizeArgs& a, const Network& net, const Calibrated& c,
                              const std::string& label, const SampleSpec& eval_spec, bool tty) {
  auto eval = open_samples(samples_of(a.model, eval_spec), net);
  if (!eval) return make_error("--data: " + eval.error().message);
  if (auto b = batch_size_for(net, a.batch, eval->count, "--data " + eval_spec.data); !b)
    return b.error();
  auto fp = Engine::create(net);
  if (!fp) return fp.error();
  auto q = Engine::create(net);
  if (!q) return q.error();
  const QuantizedConstants constants = quantize_constants(net, c.cfg);
  if (auto st = attach_config(*q, c.cfg, constants); !st) return st.error();
  auto m = compare_with_float(*fp, *q, *eval, c.batch, -1, stderr_progress(tty, "evaluating"));
  if (!m || !m->failed()) return m;
  // Nothing is written: a configuration that breaks the network is not a result.
  auto x = eval->batch(m->failed_batch_start, m->failed_batch_count);
  if (!x) return x.error();
  return make_error(explain_nonfinite(
      net, m->float_output_broken ? nullptr : &c.cfg, std::span<const Tensor>(&*x, 1),
      label + ": " + m->failure + " (samples " + std::to_string(m->failed_batch_start) + "-" +
          std::to_string(m->failed_batch_start + m->failed_batch_count - 1) + " of " +
          eval_spec.data + ")"));
}

void print_metrics(const QuantMetrics& m, const std::string& eval_spec) {
  std::printf("metrics on %s (%lld samples):\n", eval_spec.c_str(),
              static_cast<long long>(m.samples));
  if (m.accuracy)
    std::printf("  top-1 accuracy     %7.2f %%  (float %.2f %%)\n", *m.accuracy, *m.float_accuracy);
  if (m.lossless())
    std::printf("  output SQNR         lossless (the output equals the float output)\n");
  else
    std::printf("  output SQNR        %7.2f dB\n", m.sqnr_db);
  std::printf("  top-1 agreement    %7.2f %%\n", m.agreement);
  std::printf("  KL(float || quant) %9.5f nats\n", m.kl);
  std::printf("  output MSE         %11.3e\n", m.mse);
}

int run_quantize(const QuantizeArgs& a) {
  if (a.candidate.empty() == a.config.empty())
    return fail(make_error("give either --candidate (e.g. W8A8) or --config cfg.json"));
  auto settings = range_settings(a);
  if (!settings) return fail(settings.error());
  const auto rounding = rounding_settings(a);
  if (!rounding) return fail(rounding.error());
  auto threads = apply_threads(a.common);
  auto net = load_network(a.model);
  if (!net) return fail(net.error());
  auto placed = placement_for(*net, a.model);
  if (!placed) return fail(placed.error());
  const QuantizerPlacement& placement = *placed;
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto req = requested_formats(a, *net, placement);
  if (!req) return fail(req.error());
  auto calibrated = calibrate(a, *net, placement, *req, *settings, tty);
  if (!calibrated) return fail(calibrated.error());
  std::optional<AdaRoundReport> rounded;
  if (*rounding) {
    auto r = round_weights(a, *net, placement, *calibrated, **rounding, tty);
    if (!r) return fail(r.error());
    rounded = std::move(r).value();
  }
  const QuantConfig& cfg = calibrated->cfg;
  // --labels label the evaluation samples: --data, or the calibration samples without it.
  const SampleSpec eval_spec{a.data.empty() ? a.calib : a.data, a.labels};
  const auto m = evaluate(a, *net, *calibrated, req->label, eval_spec, tty);
  if (!m) return fail(m.error());

  if (!a.output.empty())
    if (auto st = write_config(a.output, cfg); !st) return fail(st.error());
  const std::vector<RangeChoice> ranges =
      a.explain ? explain_ranges(*net, placement, cfg, calibrated->stats, *settings)
                : std::vector<RangeChoice>{};
  if (a.common.json) {
    nlohmann::json j = {{"model", a.model.model},
                        {"configuration", req->label},
                        {"calibration_data", a.calib},
                        {"evaluation_data", eval_spec.data},
                        {"evaluation_labels", eval_spec.labels},
                        {"activation_range", a.act_range},
                        {"weight_range", a.weight_range},
                        {"quantizers", cfg.quantizers.size()},
                        {"metrics", metrics_to_json(*m)},
                        {"written", a.output}};
    if (a.explain) j["ranges"] = explain_json(ranges);
    j["weight_rounding"] = a.weight_rounding;
    j["bias_correction"] = a.bias_correction;
    if (rounded) j["adaround"] = rounding_json(*rounded);
    print_json(j);
    return 0;
  }
  std::printf("%s, %s: %zu quantizers calibrated on %s (activations %s, weights %s)\n",
              a.model.model.c_str(), req->label.c_str(), cfg.quantizers.size(), a.calib.c_str(),
              a.act_range.c_str(), a.weight_range.c_str());
  if (a.explain) print_explanation(ranges);
  if (rounded) print_rounding(*rounded);
  print_metrics(*m, eval_spec.text());
  if (!a.output.empty()) std::printf("wrote %s\n", a.output.c_str());
  return 0;
}

}  // namespace

void add_quantize_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<QuantizeArgs>();
  auto* cmd = app.add_subcommand(
      "quantize",
      "Calibrate a quantization configuration, print its metrics against the float model "
      "and write it as JSON");
  add_model_args(*cmd, args->model);
  add_fusion_hw_option(*cmd, args->model.fusion_hw);
  add_common_args(*cmd, args->common);
  cmd->add_option("--candidate", args->candidate,
                  "One candidate for every quantizer: W<w>A<a> (W8A8, W4A8, W8A16, "
                  "Wmxfp4Amxfp8_e4m3, Wint4_g128A16, ...) or a float format (fp16, bf16, "
                  "fp8e4m3, fp8e5m2)");
  cmd->add_option("--config", args->config,
                  "Take the formats of this configuration and recalibrate its ranges");
  cmd->add_option("--calib", args->calib,
                  "Calibration samples: a data spec or an .npy array [N, ...]")
      ->capture_default_str();
  cmd->add_option("--data", args->data,
                  "Evaluation samples (default: the calibration samples); labels give accuracy");
  cmd->add_option("--labels", args->labels,
                  "Labels of the evaluation samples (--data, else --calib): an integer .npy [N] "
                  "for an .npy, a file,label CSV for a flat image folder");
  cmd->add_option("-o,--output", args->output, "Write the configuration to this JSON file");
  cmd->add_option("--act-range", args->act_range,
                  "Activation ranges: enhanced (clipping-weighted SQNR search; min-max from 12 "
                  "bits), mse, minmax or percentile")
      ->capture_default_str();
  cmd->add_option("--weight-range", args->weight_range,
                  "Weight ranges: enhanced (least error at the op's output), mse, minmax or "
                  "percentile")
      ->capture_default_str();
  cmd->add_flag("--explain", args->explain,
                "Print the method, range, observed extremes and clipped share of every quantizer");
  cmd->add_option("--percentile", args->percentile, "Percentile for the percentile method")
      ->capture_default_str();
  cmd->add_option("--act-scheme", args->act_scheme, "Integer activations: asymmetric or symmetric")
      ->capture_default_str();
  cmd->add_option("--weight-scheme", args->weight_scheme,
                  "Integer weights: symmetric or asymmetric")
      ->capture_default_str();
  cmd->add_flag("--per-tensor", args->per_tensor,
                "One weight scale per tensor instead of one per output channel");
  cmd->add_option("--bias", args->bias, "Biases: int32 (scale s_w x s_a) or float")
      ->capture_default_str();
  cmd->add_option("--weight-rounding", args->weight_rounding,
                  "Integer weights: nearest, or adaround (learned per weight to keep each layer's "
                  "output, Nagel et al. 2020; written into the configuration)")
      ->capture_default_str();
  cmd->add_flag("--bias-correction", args->bias_correction,
                "Correct each Conv/Gemm bias by the mean its quantized weights (nearest or "
                "AdaRound) take off the layer's output on the calibration samples, per output "
                "channel; written into the configuration (corrected_biases)");
  cmd->add_option("--adaround-inputs", args->adaround_inputs,
                  "AdaRound fits each layer on the inputs of the network quantized up to it "
                  "(quantized: it makes up for earlier layers' errors) or on the float network's "
                  "(float: layers independent of each other)")
      ->capture_default_str();
  cmd->add_option("--adaround-iters", args->adaround.iterations, "AdaRound: Adam iterations")
      ->capture_default_str();
  cmd->add_option("--adaround-lambda", args->adaround.lambda,
                  "AdaRound: weight of the rounding regularizer")
      ->capture_default_str();
  cmd->add_option("--adaround-lr", args->adaround.learning_rate, "AdaRound: Adam learning rate")
      ->capture_default_str();
  cmd->add_option("--adaround-warmup", args->adaround.warmup,
                  "AdaRound: share of iterations before the regularizer starts")
      ->capture_default_str();
  cmd->add_option("--adaround-beta-start", args->adaround.beta_start,
                  "AdaRound: regularizer exponent at the end of the warm-up")
      ->capture_default_str();
  cmd->add_option("--adaround-beta-end", args->adaround.beta_end,
                  "AdaRound: regularizer exponent at the last iteration")
      ->capture_default_str();
  cmd->add_option("--batch", args->batch, "Batch size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([args, &exit_code] { exit_code = run_quantize(*args); });
}

}  // namespace mpq::cli
