// Fuzz target: the quantization configuration reader (sim/quant_config.cpp), validated against
// the bundled CNN and run on one zero image, as `mpq run --config` does.
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "fuzz_file.hpp"
#include "graph/quantizer_placement.hpp"
#include "sim/engine.hpp"
#include "sim/prepare.hpp"
#include "sim/quant_config.hpp"
#include "sim/quantized_engine.hpp"

namespace {

struct Target {
  mpq::Network net;
  mpq::QuantizerPlacement placement;
  std::vector<mpq::Tensor> inputs;
};

Target load_target() {
  auto net = mpq::load_network(MPQ_SOURCE_DIR "/configs/models/cnn.onnx", {});
  if (!net) std::abort();
  auto placement = mpq::place_quantizers(*net);
  auto inputs = mpq::make_example_inputs(net->model, 1);
  if (!inputs) std::abort();
  return {std::move(*net), std::move(placement), std::move(*inputs)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mpq::fuzz::FuzzFile file("config.json");
  static const bool limited = (mpq::fuzz::limit_memory(), true);
  static const Target target = load_target();
  (void)limited;
  auto json = mpq::read_config_json(file.write(data, size));
  if (!json) return 0;
  auto cfg = mpq::config_from_json(*json, target.net, target.placement, "config.json");
  if (!cfg) return 0;
  const mpq::QuantizedConstants constants = mpq::quantize_constants(target.net, *cfg);
  auto engine = mpq::Engine::create(target.net);
  if (!engine || !mpq::attach_config(*engine, *cfg, constants)) return 0;
  (void)engine->run(target.inputs);
  return 0;
}
