// Reads an mpq experiment file (search), loads its model (sim, graph) and prints how many ops
// the network has and how many quantizers sit on it: proof that an installed mpq links.
#include <cstdio>

#include "graph/quantizer_placement.hpp"
#include "search/experiment.hpp"
#include "sim/prepare.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mpq_consumer EXPERIMENT.yaml\n");
    return 2;
  }
  auto x = mpq::load_experiment(argv[1]);
  if (!x) {
    std::fprintf(stderr, "error: %s\n", x.error().message.c_str());
    return 2;
  }
  auto net = mpq::load_network(x->model, x->input_shapes);
  if (!net) {
    std::fprintf(stderr, "error: %s\n", net.error().message.c_str());
    return 2;
  }
  const mpq::QuantizerPlacement placement = mpq::place_quantizers(*net);
  std::printf("ops %zu\n", net->model.nodes.size());
  std::printf("quantizers %zu\n", placement.quantizers.size());
  return 0;
}
