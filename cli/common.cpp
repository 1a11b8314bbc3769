#include "common.hpp"

#include <cstdio>
#include <iostream>

#include "core/memory_budget.hpp"
#include "core/printable_text.hpp"
#include "hardware_args.hpp"
#include "sim/prepare.hpp"

namespace mpq::cli {

void add_model_args(CLI::App& cmd, ModelArgs& a) {
  cmd.add_option("model", a.model, "ONNX model file")->required();
  cmd.add_option("--input-shape", a.input_shapes,
                 "Shape of an input with dynamic dimensions, NAME:D1xD2x... (repeatable; the "
                 "name may be left out for a single-input model)");
  cmd.add_flag("--no-canonicalize", a.no_canonicalize,
               "Skip the canonicalization pass (affine chains, decomposed activations and "
               "normalizations stay as exported; quantizers sit after each of their ops)");
  cmd.add_flag("--allow-nonfinite", a.allow_nonfinite,
               "Run even when the model's weights or the input arrays hold NaN or inf (they are "
               "refused by default, naming the tensor)");
}

SampleSpec samples_of(const ModelArgs& a, SampleSpec spec) {
  spec.allow_nonfinite = a.allow_nonfinite;
  return spec;
}

void add_common_args(CLI::App& cmd, CommonArgs& a) {
  cmd.add_option("--threads", a.threads, "Worker threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_flag("--json", a.json, "Print the result as one JSON document on stdout");
  cmd.add_option("--max-memory", a.max_memory,
                 "Memory budget for tensors, e.g. 4G or 512M (default: 3/4 of physical memory, " +
                     byte_size_text(memory_budget()) +
                     " here); inputs, batches and models beyond it are refused before allocating")
      ->check(CLI::Validator(
          [](const std::string& v) {
            auto b = parse_byte_size(v);
            return b ? std::string() : b.error().message;
          },
          "SIZE"))
      ->each([](const std::string& v) { set_memory_budget(*parse_byte_size(v)); });
}

std::unique_ptr<tbb::global_control> apply_threads(const CommonArgs& a) {
  if (a.threads <= 0) return nullptr;
  return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                               static_cast<std::size_t>(a.threads));
}

Result<Network> load_network(const ModelArgs& a, CanonicalizationReport* canonical) {
  PrepareOptions opts;
  opts.canonicalize = !a.no_canonicalize;
  opts.allow_nonfinite = a.allow_nonfinite;
  return mpq::load_network(a.model, a.input_shapes, opts, canonical);
}

Result<QuantizerPlacement> placement_for(const Network& net, const ModelArgs& a) {
  auto rules = placement_rules_for(a.fusion_hw);
  if (!rules) return rules.error();
  return place_quantizers(net, *rules);
}

int fail(const Error& e) {
  std::cerr << "mpq: error: " << printable_text(e.message) << '\n';
  return kExitInputError;
}

void print_json(const nlohmann::json& j) {
  std::cout << j.dump(2) << '\n';
}

void print_adaround_summary(const Phase1Result& r) {
  if (!r.rounded) return;
  std::fprintf(
      stderr, "%s: %lld (weight, format) pairs learned, %lld reused from the cache\n",
      r.rounded->integers.empty() && !r.rounded->biases.empty() ? "bias correction" : "AdaRound",
      static_cast<long long>(r.adaround_computed), static_cast<long long>(r.adaround_reused));
  for (const auto& s : r.adaround_skipped)
    std::fprintf(stderr, "AdaRound: left at nearest: %s\n", s.c_str());
}

}  // namespace mpq::cli
