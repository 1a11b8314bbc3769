#include "conformance.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "graph/onnx_import.hpp"
#include "graph/tensor_proto.hpp"
#include "sim/engine.hpp"
#include "sim/op_registry.hpp"
#include "sim/prepare.hpp"

namespace fs = std::filesystem;

namespace mpq::conformance {
namespace {

std::vector<fs::path> sorted_files(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> v;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) v.push_back(e.path());
  // input_10.pb sorts after input_9.pb
  std::sort(v.begin(), v.end(), [&](const fs::path& a, const fs::path& b) {
    auto num = [&](const fs::path& p) {
      return std::stoi(p.stem().string().substr(prefix.size()));
    };
    return num(a) < num(b);
  });
  return v;
}

std::string compare(const Tensor& got, const Tensor& want, const Tolerance& tol) {
  if (got.shape != want.shape)
    return "shape " + shape_str(got.shape) + " != expected " + shape_str(want.shape);
  if (got.is_float() != want.is_float())
    return std::string("dtype ") + dtype_name(got.dtype) + " != expected " + dtype_name(want.dtype);
  for (std::int64_t k = 0; k < want.size(); ++k) {
    const double a = got.at_f(k), b = want.at_f(k);
    if (std::isnan(b) && std::isnan(a)) continue;
    if (std::isinf(b) && a == b) continue;
    if (!(std::abs(a - b) <= tol.atol + tol.rtol * std::abs(b))) {
      std::ostringstream os;
      os << "element " << k << ": got " << a << ", expected " << b;
      return os.str();
    }
  }
  return "";
}

}  // namespace

CaseResult run_case(const std::string& dir, const Tolerance& tol) {
  auto model = load_onnx((fs::path(dir) / "model.onnx").string());
  if (!model) return {Outcome::Rejected, model.error().message};
  for (const auto& n : model->nodes)
    if (!find_op(n.op_type)) return {Outcome::Skipped, "unsupported op " + n.op_type};
  PrepareOptions opts;
  opts.infer_shapes = false;  // inputs of test cases can be shape tensors; shapes come at run
  auto net = prepare_network(std::move(model).value(), opts);
  if (!net) {
    // check_supported rejects attribute values with a message; anything else is a failure
    if (net.error().message.find("unsupported attribute values") != std::string::npos)
      return {Outcome::Rejected, net.error().message};
    return {Outcome::Fail, "prepare: " + net.error().message};
  }
  auto engine = Engine::create(*net);
  if (!engine) return {Outcome::Fail, engine.error().message};
  int sets = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory() || e.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
    ++sets;
    std::vector<Tensor> inputs;
    for (const auto& p : sorted_files(e.path(), "input_")) {
      auto t = read_tensor_pb(p.string());
      if (!t) return {Outcome::Rejected, t.error().message};
      inputs.push_back(std::move(t).value());
    }
    if (inputs.size() != net->model.inputs.size())
      return {Outcome::Fail, "test provides " + std::to_string(inputs.size()) +
                                 " inputs, model declares " +
                                 std::to_string(net->model.inputs.size())};
    auto outs = engine->run(inputs);
    if (!outs) {
      // A kernel that refuses a run-time input value (e.g. Dropout's training_mode input) with a
      // message has rejected the case clearly; anything else is a failure.
      if (outs.error().message.find("not supported") != std::string::npos)
        return {Outcome::Rejected, outs.error().message};
      return {Outcome::Fail, "run: " + outs.error().message};
    }
    const auto expected = sorted_files(e.path(), "output_");
    for (std::size_t k = 0; k < expected.size() && k < outs->size(); ++k) {
      auto want = read_tensor_pb(expected[k].string());
      if (!want) return {Outcome::Rejected, want.error().message};
      const std::string diff = compare((*outs)[k], *want, tol);
      if (!diff.empty())
        return {Outcome::Fail, e.path().filename().string() + " output " +
                                   net->model.outputs[k].name + ": " + diff};
    }
  }
  if (sets == 0) return {Outcome::Skipped, "no test data sets"};
  return {Outcome::Pass, ""};
}

}  // namespace mpq::conformance
