// `mpq run`: FP32 inference on a data set (top-1 accuracy) or on given .npy inputs.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "common.hpp"
#include "hardware_args.hpp"
#include "sim/engine.hpp"
#include "sim/evaluate.hpp"
#include "sim/memory_plan.hpp"
#include "sim/nonfinite.hpp"
#include "sim/npy.hpp"
#include "sim/quantized_engine.hpp"
#include "sim/sample_source.hpp"
#include "sim/sub_batch_runner.hpp"

namespace mpq::cli {
namespace {

struct RunArgs {
  ModelArgs model;
  CommonArgs common;
  std::string data, labels;
  std::vector<std::string> inputs;
  std::string output, output_dir;
  std::int64_t batch = 0;
  std::string config;
};

int run_on_data(const RunArgs& a, const Network& net, const BatchRun& run,
                const std::string& split) {
  if (net.model.inputs.size() != 1)
    return fail(make_error("--data feeds one input, but the model has " +
                           std::to_string(net.model.inputs.size()) + " inputs; use --input"));
  auto samples = open_samples(samples_of(a.model, SampleSpec{a.data, a.labels}), net);
  if (!samples) return fail(make_error("--data: " + samples.error().message));
  // A model with a fixed batch dimension runs at that batch size.
  auto fixed = batch_size_for(net, a.batch > 0 ? a.batch : 32, samples->count, "--data " + a.data);
  if (!fixed) return fail(fixed.error());
  const std::int64_t batch = *fixed;
  const bool tty = isatty(STDERR_FILENO) && !a.common.json;
  const auto t0 = std::chrono::steady_clock::now();
  auto acc = evaluate_accuracy(run, *samples, batch, [&](std::int64_t done, std::int64_t total) {
    if (tty)
      std::fprintf(stderr, "\r%lld / %lld images", static_cast<long long>(done),
                   static_cast<long long>(total));
  });
  if (tty) std::fprintf(stderr, "\n");
  if (!acc) return fail(acc.error());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (a.common.json) {
    print_json({{"model", a.model.model},
                {"data", a.data},
                {"labels", a.labels},
                {"top1_accuracy", acc->percent()},
                {"correct", acc->correct},
                {"total", acc->total},
                {"batch", batch},
                {"split", split},
                {"seconds", secs}});
  } else {
    std::printf("%s on %s: top-1 accuracy %.2f%% (%lld / %lld), %.1f images/s\n",
                a.model.model.c_str(), samples->description.c_str(), acc->percent(),
                static_cast<long long>(acc->correct), static_cast<long long>(acc->total),
                static_cast<double>(acc->total) / secs);
  }
  return 0;
}

// One input holding several batches of the model's fixed batch size b: run batch by batch,
// the outputs joined along their first dimension.
Result<std::vector<Tensor>> run_batches(const BatchRun& run, const Tensor& all, std::int64_t b) {
  const std::int64_t n = all.shape[0], per = all.size() / n;
  std::vector<Tensor> joined;
  for (std::int64_t start = 0; start < n; start += b) {
    Shape s = all.shape;
    s[0] = b;
    Tensor x = Tensor::zeros(s);
    std::copy_n(all.f.begin() + start * per, b * per, x.f.begin());
    auto out = run(std::span<const Tensor>(&x, 1));
    if (!out)
      return make_error("samples " + std::to_string(start) + "-" + std::to_string(start + b - 1) +
                        ": " + out.error().message);
    for (std::size_t k = 0; k < out->size(); ++k) {
      const Tensor& y = (*out)[k];
      if (y.shape.empty() || y.shape[0] != b)
        return make_error("output " + std::to_string(k) + " has shape " + shape_str(y.shape) +
                          ", no batch dimension of " + std::to_string(b) +
                          " to join the batches along");
      if (joined.size() <= k) {
        Shape js = y.shape;
        js[0] = n;
        joined.push_back(Tensor::zeros(js, y.dtype));
      }
      const std::int64_t m = y.size() / b;
      if (y.is_float())
        std::copy(y.f.begin(), y.f.end(), joined[k].f.begin() + start * m);
      else
        std::copy(y.i.begin(), y.i.end(), joined[k].i.begin() + start * m);
    }
  }
  return joined;
}

int run_on_inputs(const RunArgs& a, const Network& net, const BatchRun& run,
                  const std::string& split) {
  const auto& declared = net.model.inputs;
  std::vector<Tensor> inputs(declared.size());
  std::vector<bool> given(declared.size(), false);
  for (const auto& spec : a.inputs) {
    std::string name, path = spec;
    if (auto eq = spec.find('='); eq != std::string::npos) {
      name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
    }
    std::size_t k = 0;
    if (name.empty()) {
      if (declared.size() != 1)
        return fail(make_error("the model has " + std::to_string(declared.size()) +
                               " inputs: give each as --input NAME=FILE.npy"));
    } else {
      while (k < declared.size() && declared[k].name != name) ++k;
      if (k == declared.size())
        return fail(make_error("the model has no input named '" + name + "'"));
    }
    auto t = read_npy(path);
    if (!t) return fail(t.error());
    if (t->is_float() && !a.model.allow_nonfinite)
      if (auto st = check_finite(t->f, t->shape, path); !st) return fail(st.error());
    inputs[k] = std::move(t).value();
    given[k] = true;
  }
  for (std::size_t k = 0; k < declared.size(); ++k)
    if (!given[k]) return fail(make_error("no value given for input '" + declared[k].name + "'"));
  // A single input with more samples than the fixed batch runs in batches (the rule of every
  // command: sample_source.hpp).
  std::int64_t batch = 0;
  if (declared.size() == 1 && inputs[0].is_float() && inputs[0].rank() >= 1 &&
      !declared[0].dims.empty() && declared[0].dims[0] > 0 &&
      inputs[0].shape[0] != declared[0].dims[0]) {
    auto b = batch_size_for(net, 1, inputs[0].shape[0], "--input " + a.inputs[0]);
    if (!b) return fail(b.error());
    batch = *b;
  }
  if (batch == 0 && !inputs.empty() && inputs[0].rank() >= 1)
    if (auto st = check_batch_memory(net, inputs[0].shape[0], "--input " + a.inputs[0]); !st)
      return fail(st.error());
  auto out = batch > 0 ? run_batches(run, inputs[0], batch) : run(inputs);
  if (!out) return fail(out.error());
  nlohmann::json written = nlohmann::json::array();
  auto write = [&](const std::string& path, const Tensor& t, const std::string& name) -> bool {
    auto st = write_npy(path, t);
    if (!st) {
      fail(st.error());
      return false;
    }
    written.push_back({{"output", name}, {"file", path}, {"shape", t.shape}});
    return true;
  };
  if (!a.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(a.output_dir, ec);
    if (ec) return fail(make_error("cannot create '" + a.output_dir + "': " + ec.message()));
    for (std::size_t k = 0; k < out->size(); ++k) {
      std::string safe = net.model.outputs[k].name;
      for (char& c : safe)
        if (c == '/' || c == '\\' || c == ':') c = '_';
      if (!write(a.output_dir + "/" + safe + ".npy", (*out)[k], net.model.outputs[k].name))
        return kExitInputError;
    }
  } else if (!a.output.empty()) {
    if (!write(a.output, out->at(0), net.model.outputs[0].name)) return kExitInputError;
  }
  if (a.common.json) {
    nlohmann::json outs = nlohmann::json::array();
    for (std::size_t k = 0; k < out->size(); ++k)
      outs.push_back({{"name", net.model.outputs[k].name}, {"shape", (*out)[k].shape}});
    print_json(
        {{"model", a.model.model}, {"outputs", outs}, {"written", written}, {"split", split}});
  } else {
    for (std::size_t k = 0; k < out->size(); ++k)
      std::printf("output '%s': shape %s\n", net.model.outputs[k].name.c_str(),
                  shape_str((*out)[k].shape).c_str());
    for (const auto& w : written) std::printf("wrote %s\n", w["file"].get<std::string>().c_str());
  }
  return 0;
}

int run_run(const RunArgs& a) {
  if (a.data.empty() == a.inputs.empty())
    return fail(
        make_error("give either --data SPEC (e.g. fashion-mnist:test) or --input FILE.npy"));
  auto threads = apply_threads(a.common);
  auto net = load_network(a.model);
  if (!net) return fail(net.error());
  auto engine = Engine::create(*net);
  if (!engine) return fail(engine.error());
  // With --config the engine runs fake-quantized; the configuration must outlive the runs.
  QuantConfig cfg;
  QuantizedConstants constants;
  if (!a.config.empty()) {
    auto placement = placement_for(*net, a.model);
    if (!placement) return fail(placement.error());
    auto read = read_config(a.config, *net, *placement);
    if (!read) return fail(read.error());
    cfg = std::move(read).value();
    constants = quantize_constants(*net, cfg);
    if (auto st = attach_config(*engine, cfg, constants); !st) return fail(st.error());
  }
  // FP32 runs in sub-batches, one engine per thread, when the model keeps its images apart.
  // ("split" in the JSON says which way it ran, and why not in sub-batches.)
  std::optional<SubBatchRunner> runner;
  std::string split = "whole batch: fake-quantized (--config)";
  if (a.config.empty()) {
    if (auto r = SubBatchRunner::create(*net); r) {
      runner.emplace(std::move(r).value());
      split = "sub-batches of " + std::to_string(SubBatchRunner::kSubBatch);
    } else {
      split = "whole batch: " + r.error().message;
    }
  }
  // A fake-quantized run whose outputs are not finite is an error naming where it broke.
  const BatchRun run = [&](std::span<const Tensor> in) -> Result<std::vector<Tensor>> {
    auto out = runner ? runner->run(in) : engine->run(in);
    if (!out || a.config.empty()) return out;
    for (std::size_t k = 0; k < out->size(); ++k)
      if ((*out)[k].is_float() && !all_finite((*out)[k].f))
        return make_error(explain_nonfinite(*net, &cfg, in,
                                            "with --config " + a.config + ", output '" +
                                                net->model.outputs[k].name +
                                                "' holds NaN or infinite values"));
    return out;
  };
  return a.data.empty() ? run_on_inputs(a, *net, run, split) : run_on_data(a, *net, run, split);
}

}  // namespace

void add_run_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RunArgs>();
  auto* cmd = app.add_subcommand(
      "run",
      "Run the model (FP32, or fake-quantized with --config): top-1 accuracy on a data set, "
      "or outputs for given inputs");
  add_model_args(*cmd, args->model);
  add_fusion_hw_option(*cmd, args->model.fusion_hw);
  add_common_args(*cmd, args->common);
  auto* data = cmd->add_option(
      "--data", args->data,
      "Labeled samples: fashion-mnist:test, fashion-mnist:train[:N] or :OFFSET+N, an image "
      "folder (PNG/JPEG, one sub-folder per class or flat with --labels), or an .npy array "
      "[N, ...] with --labels");
  cmd->add_option("--labels", args->labels,
                  "Labels of --data: an integer .npy [N] for an .npy, a file,label CSV for a flat "
                  "image folder")
      ->needs(data);
  cmd->add_option("--batch", args->batch, "Batch size for --data (default 32)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--input", args->inputs, "Input as [NAME=]FILE.npy (repeatable)");
  cmd->add_option("--output", args->output, "Write the first output to this .npy file");
  cmd->add_option("--output-dir", args->output_dir, "Write every output as DIR/<output name>.npy");
  cmd->add_option("--config", args->config,
                  "Run fake-quantized with this configuration (written by `mpq quantize -o`)");
  cmd->callback([args, &exit_code] { exit_code = run_run(*args); });
}

}  // namespace mpq::cli
