// The same inputs give bit-identical outputs whatever the thread count.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <filesystem>

#include "graph/onnx_import.hpp"
#include "onnx_builder.hpp"
#include "sim/engine.hpp"
#include "sim/prepare.hpp"

namespace mpq {
namespace {

std::vector<Tensor> run_with_threads(const Network& net, const std::vector<Tensor>& in,
                                     std::size_t threads) {
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  auto e = Engine::create(net);
  EXPECT_TRUE(e.ok());
  auto out = e->run(in);
  EXPECT_TRUE(out.ok()) << out.error().message;
  return std::move(out).value();
}

class BundledModel : public ::testing::TestWithParam<std::string> {};

TEST_P(BundledModel, OutputsIdenticalWithOneTwoAndFourThreads) {
  const std::string path = std::string(MPQ_SOURCE_DIR) + "/configs/models/" + GetParam();
  if (!std::filesystem::exists(path)) GTEST_FAIL() << "bundled model missing: " << path;
  auto m = load_onnx(path);
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto net = prepare_network(std::move(m).value());
  ASSERT_TRUE(net.ok()) << net.error().message;
  for (std::int64_t batch : {1, 16}) {
    auto in = make_example_inputs(net->model, batch);
    ASSERT_TRUE(in.ok());
    const auto r = test::random_values((*in)[0].f.size(), 42, -2.0f, 2.0f);
    (*in)[0].f.assign(r.begin(), r.end());
    const auto one = run_with_threads(*net, *in, 1);
    for (std::size_t t : {2u, 4u}) {
      const auto many = run_with_threads(*net, *in, t);
      ASSERT_EQ(one.size(), many.size());
      for (std::size_t k = 0; k < one.size(); ++k)
        EXPECT_EQ(one[k].f, many[k].f)
            << GetParam() << " batch " << batch << ", " << t << " threads";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, BundledModel,
                         ::testing::Values("cnn.onnx", "mobilenet.onnx", "resnet.onnx", "vit.onnx"),
                         [](const auto& info) {
                           return info.param.substr(0, info.param.find('.'));
                         });

}  // namespace
}  // namespace mpq
