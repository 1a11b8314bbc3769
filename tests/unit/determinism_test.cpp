// The same inputs give bit-identical outputs whatever the thread count.
#include <gtest/gtest.h>
#include <tbb/global_control.h>
#include <tbb/task_arena.h>

#include <filesystem>

#include "graph/onnx_import.hpp"
#include "onnx_builder.hpp"
#include "prepared_network.hpp"
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

using test::OnnxBuilder;

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

// Wide layers (past 128 output channels) choose between Winograd and the GEMM paths by how
// many tasks they would give per thread, and the paths round differently: the choice must not
// depend on the machine's core count. An arena of n slots stands for a machine of n cores
// (the kernels plan for this_task_arena::max_concurrency()). A 256-channel 3x3 conv on 14x14.
TEST(Determinism, WideConvPathDoesNotDependOnTheCoreCount) {
  OnnxBuilder b(17);
  b.input("x", {-1, 256, 14, 14});
  b.initializer("w", {256, 256, 3, 3},
                test::random_values(static_cast<std::size_t>(256 * 256 * 9), 5, -0.05f, 0.05f));
  auto* conv = b.node("Conv", {"x", "w"}, {"y"});
  OnnxBuilder::attr_ints(conv, "pads", {1, 1, 1, 1});
  b.output("y", {});
  const Network net = test::prepared(b.save("wide_conv.onnx"));
  const auto on_cores = [&](const std::vector<Tensor>& in, int cores) {
    tbb::task_arena arena(cores);
    std::vector<Tensor> out;
    arena.execute([&] {
      auto e = Engine::create(net);
      ASSERT_TRUE(e.ok());
      auto r = e->run(in);
      ASSERT_TRUE(r.ok()) << r.error().message;
      out = std::move(r).value();
    });
    return out;
  };
  for (std::int64_t batch : {1, 8}) {
    auto in = make_example_inputs(net.model, batch);
    ASSERT_TRUE(in.ok());
    const auto r = test::random_values((*in)[0].f.size(), 43, -1.0f, 1.0f);
    (*in)[0].f.assign(r.begin(), r.end());
    const auto one = on_cores(*in, 1);
    ASSERT_EQ(one.size(), 1u);
    for (int cores : {2, 4, 8}) {
      const auto many = on_cores(*in, cores);
      ASSERT_EQ(many.size(), 1u);
      EXPECT_EQ(one[0].f, many[0].f) << "batch " << batch << ", " << cores << " cores";
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
