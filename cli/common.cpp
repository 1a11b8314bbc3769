#include "common.hpp"

#include <iostream>

#include "graph/onnx_import.hpp"
#include "sim/prepare.hpp"

namespace mpq::cli {

void add_model_args(CLI::App& cmd, ModelArgs& a) {
  cmd.add_option("model", a.model, "ONNX model file")->required();
  cmd.add_option("--input-shape", a.input_shapes,
                 "Shape of an input with dynamic dimensions, NAME:D1xD2x... (repeatable; the "
                 "name may be left out for a single-input model)");
}

void add_common_args(CLI::App& cmd, CommonArgs& a) {
  cmd.add_option("--threads", a.threads, "Worker threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_flag("--json", a.json, "Print the result as one JSON document on stdout");
}

std::unique_ptr<tbb::global_control> apply_threads(const CommonArgs& a) {
  if (a.threads <= 0) return nullptr;
  return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                               static_cast<std::size_t>(a.threads));
}

Result<Network> load_network(const ModelArgs& a) {
  ImportOptions opts;
  for (const auto& spec : a.input_shapes) {
    auto s = parse_input_shape(spec);
    if (!s) return s.error();
    opts.input_shapes[s->first] = s->second;
  }
  auto model = load_onnx(a.model, opts);
  if (!model) return model.error();
  auto net = prepare_network(std::move(model).value());
  if (!net) return make_error(a.model + ": " + net.error().message);
  return net;
}

int fail(const Error& e) {
  std::cerr << "mpq: error: " << e.message << '\n';
  return kExitInputError;
}

void print_json(const nlohmann::json& j) {
  std::cout << j.dump(2) << '\n';
}

}  // namespace mpq::cli
