#pragma once
// The network as a Boost.Graph DAG: a vertex per op, an edge per (producer, consumer) tensor.
// Graph inputs and initializers have no producer vertex; they are looked up in the Model.
#include <boost/graph/adjacency_list.hpp>
#include <map>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "model.hpp"
#include "op_traits.hpp"

namespace mpq {

struct OpVertex {
  std::size_t node = 0;  // index into Model::nodes
};
struct TensorEdge {
  std::string tensor;
};
using OpGraph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, OpVertex, TensorEdge>;

struct OpStats {
  std::int64_t macs = 0;    // multiply-accumulates per sample
  std::int64_t params = 0;  // elements of constant weight/bias inputs
};

struct Network {
  Model model;
  OpGraph graph;
  std::vector<std::size_t> order;          // node indices, topologically sorted
  std::map<std::string, Shape> shapes;     // tensor shapes at batch 1 (filled by sim's shape pass)
  std::map<std::string, DType> dtypes;     // tensor element types (same pass)
  std::vector<OpStats> stats;              // per node index (filled by compute_op_stats)
  std::vector<const OpTraits*> op_traits;  // per node index, from the registry (build_network)

  const OpNode& node(std::size_t k) const { return model.nodes[k]; }
  const OpTraits& traits(std::size_t k) const { return *op_traits[k]; }
  std::map<std::string, std::size_t> producer_of;  // tensor -> node index; none for inputs
                                                   // and initializers
};

// Builds the graph and a topological order, and looks up every node's traits in the op
// registry (`lookup`: sim's find_op_traits). Errors: an op type the lookup does not know, a
// tensor used but never defined, a tensor defined twice, or a cycle.
Result<Network> build_network(Model model, OpTraitsLookup lookup);

// Per-op MACs (the traits' macs function) and parameter counts (elements of every constant float
// input: the same rule for every op) from `shapes`.
void compute_op_stats(Network& net);

// Folds BatchNormalization into a preceding Conv, ConvTranspose or Gemm whose output feeds
// only that BatchNormalization. Returns the number of folded nodes.
int fold_batchnorm(Model& model);

}  // namespace mpq
