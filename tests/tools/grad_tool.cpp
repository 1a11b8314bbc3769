// mpq_grad_tool: reverse mode (sim/backward.hpp) on one model, for the gradient conformance
// tests against PyTorch autograd (tests/e2e/test_gradients.py).
//
//   mpq_grad_tool MODEL.onnx OUT_DIR [--input X.npy]... (--cotangent G.npy | --labels L.npy)
//                 [--raw] [--threads N]
//
// Runs the model on the inputs (in model input order), seeds dL/d(output 0) with G (the
// vector of the vector-Jacobian product) or with the gradient of the summed softmax
// cross-entropy of output 0 against the labels (int64 .npy), and writes to OUT_DIR:
// output_K.npy (the forward outputs), grad_K.npy (dL/d of every model input and float
// constant that gets a gradient), and manifest.json: {"loss": ..., "grads": {name: file}}.
// --raw: no BatchNorm folding and no canonicalization, so that the constants are the ONNX
// initializers (constant folding still runs). Exit code 0, or 2 with a message on bad input.
#include <tbb/global_control.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/guarded_main.hpp"
#include "sim/backward.hpp"
#include "sim/npy.hpp"
#include "sim/prepare.hpp"

namespace {

int fail(const std::string& msg) {
  std::cerr << "mpq_grad_tool: " << msg << "\n";
  return 2;
}

int run(int argc, char** argv) {
  if (argc < 3)
    return fail(
        "usage: mpq_grad_tool MODEL OUT_DIR [--input X.npy]... "
        "(--cotangent G.npy | --labels L.npy) [--raw] [--threads N]");
  const std::string model_path = argv[1], out_dir = argv[2];
  std::vector<std::string> inputs;
  std::string cotangent, labels;
  bool raw = false;
  int threads = 0;
  for (int k = 3; k < argc; ++k) {
    const std::string a = argv[k];
    const bool has_value = k + 1 < argc;
    if (a == "--input" && has_value)
      inputs.push_back(argv[++k]);
    else if (a == "--cotangent" && has_value)
      cotangent = argv[++k];
    else if (a == "--labels" && has_value)
      labels = argv[++k];
    else if (a == "--threads" && has_value)
      threads = std::stoi(argv[++k]);
    else if (a == "--raw")
      raw = true;
    else
      return fail("unknown argument '" + a + "'");
  }
  std::unique_ptr<tbb::global_control> limit;
  if (threads > 0)
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                  threads);
  mpq::PrepareOptions opts;
  if (raw) {
    opts.fold_batchnorm = false;
    opts.canonicalize = false;
  }
  auto net = mpq::load_network(model_path, {}, opts);
  if (!net) return fail(net.error().message);
  auto bw = mpq::Backward::create(*net);
  if (!bw) return fail(bw.error().message);
  std::vector<mpq::Tensor> xs;
  for (const auto& p : inputs) {
    auto t = mpq::read_npy(p);
    if (!t) return fail(t.error().message);
    xs.push_back(std::move(*t));
  }
  auto ys = bw->forward(xs);
  if (!ys) return fail(ys.error().message);
  std::vector<mpq::Tensor> seeds(ys->size());
  nlohmann::json manifest;
  manifest["loss"] = nullptr;
  if (!labels.empty()) {
    auto l = mpq::read_npy(labels);
    if (!l) return fail(l.error().message);
    auto ce = mpq::cross_entropy((*ys)[0], l->to_ints());
    if (!ce) return fail(ce.error().message);
    manifest["loss"] = ce->loss;
    seeds[0] = std::move(ce->grad);
  } else if (!cotangent.empty()) {
    auto g = mpq::read_npy(cotangent);
    if (!g) return fail(g.error().message);
    seeds[0] = std::move(*g);
  } else {
    return fail("give --cotangent or --labels");
  }
  if (auto st = bw->backward(seeds); !st) return fail(st.error().message);
  std::filesystem::create_directories(out_dir);
  for (std::size_t k = 0; k < ys->size(); ++k)
    if (auto st = mpq::write_npy(out_dir + "/output_" + std::to_string(k) + ".npy", (*ys)[k]); !st)
      return fail(st.error().message);
  std::vector<std::string> names;
  for (const auto& in : net->model.inputs) names.push_back(in.name);
  for (const auto& [name, t] : net->model.initializers)
    if (t.is_float()) names.push_back(name);
  manifest["grads"] = nlohmann::json::object();
  int n = 0;
  for (const auto& name : names) {
    const mpq::Tensor* g = bw->grad(name);
    if (!g) continue;
    const std::string file = "grad_" + std::to_string(n++) + ".npy";
    if (auto st = mpq::write_npy(out_dir + "/" + file, *g); !st) return fail(st.error().message);
    manifest["grads"][name] = file;
  }
  std::ofstream(out_dir + "/manifest.json") << manifest.dump(1) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return mpq::guarded_main("mpq_grad_tool", [&] { return run(argc, argv); });
}
