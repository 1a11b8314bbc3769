#pragma once
// From an imported Model to a Network ready to run: reject unsupported ops (all at once),
// fold constant subgraphs and BatchNorm, build the graph, infer every shape by a dry run at
// batch 1, canonicalize (graph/canonicalize.hpp: affine chains, decomposed activations and
// normalizations), and count MACs and parameters.
#include <string>
#include <vector>

#include "core/result.hpp"
#include "graph/canonicalize.hpp"
#include "graph/network.hpp"

namespace mpq {

struct PrepareOptions {
  bool fold_constants = true;
  bool fold_batchnorm = true;
  bool infer_shapes = true;  // dry run at batch 1; needs every non-batch dim to be known
  // graph/canonicalize.hpp, after the folds (needs the inferred shapes: skipped without them)
  bool canonicalize = true;
  // NaN or inf in an initializer is an error naming it (sim/nonfinite.hpp) unless allowed.
  bool allow_nonfinite = false;
};

// One error listing every unsupported op type with its node names, and every attribute value
// a kernel rejects.
Status check_supported(const Model& model);

// Evaluates nodes whose inputs are all constant, and Shape of statically shaped tensors.
// Returns the number of nodes removed.
Result<int> fold_constants(Model& model);

// `canonical` (may be null) receives what the canonicalization pass rewrote and left.
Result<Network> prepare_network(Model model, const PrepareOptions& opts = {},
                                CanonicalizationReport* canonical = nullptr);

// load_onnx with `input_shapes` ("NAME:D1xD2..." each) and then prepare_network: what every
// command that starts from an ONNX file does.
Result<Network> load_network(const std::string& path, const std::vector<std::string>& input_shapes,
                             const PrepareOptions& opts = {},
                             CanonicalizationReport* canonical = nullptr);

// Zero-filled inputs at batch `batch` (dynamic leading dims), for dry runs and benchmarks.
Result<std::vector<Tensor>> make_example_inputs(const Model& model, std::int64_t batch);

}  // namespace mpq
