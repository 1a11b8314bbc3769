#pragma once
// What every subcommand shares: model loading with --input-shape, --threads, --json, and the
// one place where errors become messages and exit codes.
#include <tbb/global_control.h>
#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "graph/canonicalize.hpp"
#include "graph/network.hpp"
#include "graph/quantizer_placement.hpp"
#include "search/phase1.hpp"
#include "sim/sample_spec.hpp"

namespace mpq::cli {

constexpr int kExitInputError = 2;

struct ModelArgs {
  std::string model;
  std::vector<std::string> input_shapes;
  bool no_canonicalize = false;  // --no-canonicalize: the graph as exported (before/after)
  std::string fusion_hw;         // --hw of quantize, run, export, inspect: whose fusion rules place
  bool allow_nonfinite = false;  // --allow-nonfinite: NaN/inf in weights and data arrays
};

// `spec` with --allow-nonfinite applied.
SampleSpec samples_of(const ModelArgs& a, SampleSpec spec);

struct CommonArgs {
  int threads = 0;  // 0: all cores
  bool json = false;
  std::string max_memory;  // --max-memory: applied to the process budget as it is parsed
};

void add_model_args(CLI::App& cmd, ModelArgs& a);
void add_common_args(CLI::App& cmd, CommonArgs& a);

// Limits TBB to --threads for as long as the returned object lives.
std::unique_ptr<tbb::global_control> apply_threads(const CommonArgs& a);

// `canonical` (may be null) receives the canonicalization pass's report.
Result<Network> load_network(const ModelArgs& a, CanonicalizationReport* canonical = nullptr);
// The quantizer placement under the fusion rules of `a.fusion_hw` (defaults without one).
Result<QuantizerPlacement> placement_for(const Network& net, const ModelArgs& a);

// Prints "mpq: error: ..." to stderr and returns the input-error exit code.
int fail(const Error& e);

void print_json(const nlohmann::json& j);

// With AdaRound on: how many (weight, format) pairs were learned and reused, and what was left
// at nearest, on stderr.
void print_adaround_summary(const Phase1Result& r);

}  // namespace mpq::cli
