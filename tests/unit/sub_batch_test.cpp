// SubBatchRunner runs a batch as sub-batches of 8 on one engine per thread. It may only do so
// when no op mixes the images of a batch (check_images_independent): the bundled models pass,
// and each small model below with one op that mixes images along axis 0 is refused, naming that
// op. Its results are those of an engine run on each sub-batch, whatever the thread count.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <climits>
#include <functional>
#include <string>
#include <vector>

#include "graph/onnx_import.hpp"
#include "onnx_builder.hpp"
#include "prepared_network.hpp"
#include "sim/engine.hpp"
#include "sim/image_independence.hpp"
#include "sim/op_registry.hpp"
#include "sim/prepare.hpp"
#include "sim/sub_batch_runner.hpp"

namespace mpq {
namespace {

using test::OnnxBuilder;
using test::prepared;

TEST(ImageIndependence, BundledModelsKeepTheirImagesApart) {
  for (const char* m : {"cnn", "mobilenet", "resnet", "vit"}) {
    const Network net = prepared(test::bundled_model(m));
    const auto st = check_images_independent(net);
    EXPECT_TRUE(st.ok()) << m << ": " << st.error().message;
  }
}

// x [N, 4, 6] -> ... -> y, where `build` adds the op that mixes images, named "mix", with its
// attributes and constants; `expect` is part of the error the analysis must give.
struct MixCase {
  std::string what;
  std::string expect;
  std::function<void(OnnxBuilder&)> build;
  int opset = 17;
};

std::string i64(OnnxBuilder& b, const std::string& name, const std::vector<std::int64_t>& v) {
  *b.g->add_initializer() = OnnxBuilder::int_tensor(name, {static_cast<std::int64_t>(v.size())}, v);
  return name;
}

TEST(ImageIndependence, RefusesEveryOpThatMixesImages) {
  const std::vector<MixCase> cases = {
      {"Softmax over axis 0", "normalizes over axis 0",
       [](OnnxBuilder& b) {
         OnnxBuilder::attr_int(b.node("Softmax", {"x"}, {"y"}, "mix"), "axis", 0);
       }},
      {"Softmax over axis 0, opset 11 (whole tensor)", "normalizes over axis 0",
       [](OnnxBuilder& b) {
         OnnxBuilder::attr_int(b.node("Softmax", {"x"}, {"y"}, "mix"), "axis", 0);
       },
       11},
      {"LayerNormalization from axis 0", "normalizes over axis 0",
       [](OnnxBuilder& b) {
         b.initializer("g", {4, 6}, std::vector<float>(24, 1.0f));
         OnnxBuilder::attr_int(b.node("LayerNormalization", {"x", "g"}, {"y"}, "mix"), "axis", 0);
       }},
      {"Transpose moving axis 0", "does not keep the batch in axis 0",
       [](OnnxBuilder& b) {
         OnnxBuilder::attr_ints(b.node("Transpose", {"x"}, {"y"}, "mix"), "perm", {1, 0, 2});
       }},
      {"Reshape merging the batch", "does not keep the batch in axis 0",
       [](OnnxBuilder& b) {
         b.node("Reshape", {"x", i64(b, "s", {-1, 6})}, {"y"}, "mix");
       }},
      {"ReduceMean over axis 0", "does not keep the batch in axis 0",
       [](OnnxBuilder& b) {
         OnnxBuilder::attr_ints(b.node("ReduceMean", {"x"}, {"y"}, "mix"), "axes", {0});
       },
       13},
      {"Concat along axis 0", "does not keep the batch in axis 0",
       [](OnnxBuilder& b) {
         OnnxBuilder::attr_int(b.node("Concat", {"x", "x"}, {"y"}, "mix"), "axis", 0);
       }},
      {"Flatten from axis 0", "does not keep the batch in axis 0",
       [](OnnxBuilder& b) {
         OnnxBuilder::attr_int(b.node("Flatten", {"x"}, {"y"}, "mix"), "axis", 0);
       }},
      {"Slice reversing the batch", "steps through axis 0",
       [](OnnxBuilder& b) {
         b.node("Slice",
                {"x", i64(b, "st", {-1}), i64(b, "en", {INT64_MIN}), i64(b, "ax", {0}),
                 i64(b, "sp", {-1})},
                {"y"}, "mix");
       }},
      {"Gather along axis 0", "gathers along axis 0",
       [](OnnxBuilder& b) {
         b.node("Gather", {"x", i64(b, "idx", {0})}, {"y"}, "mix");
       }},
      {"division by the batch size", "computes with the batch size",
       [](OnnxBuilder& b) {
         b.node("Shape", {"x"}, {"shape"});
         b.node("Gather", {"shape", i64(b, "zero", {0})}, {"n"});
         auto* c = b.node("Cast", {"n"}, {"nf"});
         OnnxBuilder::attr_int(c, "to", onnx::TensorProto::FLOAT);
         b.node("Div", {"x", "nf"}, {"y"}, "mix");
       }},
  };
  for (const auto& c : cases) {
    OnnxBuilder b(c.opset);
    b.input("x", {-1, 4, 6});
    c.build(b);
    b.output("y", {});
    auto m = load_onnx(b.save("mix.onnx"));
    ASSERT_TRUE(m.ok()) << c.what << ": " << m.error().message;
    auto net = prepare_network(std::move(m).value());
    ASSERT_TRUE(net.ok()) << c.what << ": " << net.error().message;
    const auto st = check_images_independent(*net);
    ASSERT_FALSE(st.ok()) << c.what;
    EXPECT_NE(st.error().message.find(c.expect), std::string::npos)
        << c.what << ": " << st.error().message;
    EXPECT_NE(st.error().message.find("mix"), std::string::npos)
        << c.what << ": " << st.error().message;
    EXPECT_FALSE(SubBatchRunner::create(*net).ok()) << c.what;
  }
}

TEST(ImageIndependence, AcceptsShapeArithmeticThatKeepsTheBatch) {
  // Reshape to [Shape(x)[0], -1], a class token expanded to [Shape(x)[0], 1, 6] and
  // concatenated along axis 1, Softmax over the last axis, Slice along axis 1.
  OnnxBuilder b(17);
  b.input("x", {-1, 4, 6});
  b.node("Shape", {"x"}, {"shape"});
  b.node("Gather", {"shape", i64(b, "zero", {0})}, {"n"});
  b.node("Concat", {"n", i64(b, "one6", {1, 6})}, {"cls_shape"});
  OnnxBuilder::attr_int(b.g->mutable_node(b.g->node_size() - 1), "axis", 0);
  b.initializer("cls", {1, 1, 6}, {1, 2, 3, 4, 5, 6});
  b.node("Expand", {"cls", "cls_shape"}, {"cls_n"});
  OnnxBuilder::attr_int(b.node("Concat", {"cls_n", "x"}, {"t"}), "axis", 1);
  OnnxBuilder::attr_int(b.node("Softmax", {"t"}, {"s"}), "axis", -1);
  b.node("Slice", {"s", i64(b, "st", {1}), i64(b, "en", {INT64_MAX}), i64(b, "ax", {1})}, {"u"});
  b.node("Concat", {"n", i64(b, "m1", {-1})}, {"flat_shape"});
  OnnxBuilder::attr_int(b.g->mutable_node(b.g->node_size() - 1), "axis", 0);
  b.node("Reshape", {"u", "flat_shape"}, {"y"});
  b.output("y", {});
  const Network net = prepared(b.save("keeps.onnx"));
  const auto st = check_images_independent(net);
  EXPECT_TRUE(st.ok()) << st.error().message;
}

// An embedding lookup: token ids [N, 5] (per image) gather rows of a constant table along its
// axis 0. Each image keeps its own rows, so the batch splits, and the sub-batched results are
// the whole batch's (the rows are copies).
TEST(ImageIndependence, AcceptsAnEmbeddingLookupOfEachImagesIds) {
  OnnxBuilder b(17);
  b.input("ids", {-1, 5}, onnx::TensorProto::INT64);
  std::vector<float> table(10 * 6);
  for (std::size_t k = 0; k < table.size(); ++k) table[k] = 0.5f * static_cast<float>(k);
  b.initializer("table", {10, 6}, table);
  b.node("Gather", {"table", "ids"}, {"emb"}, "lookup");
  OnnxBuilder::attr_int(b.node("ReduceSum", {"emb", i64(b, "axes", {1})}, {"y"}), "keepdims", 0);
  b.output("y", {});
  const Network net = prepared(b.save("embedding.onnx"));
  const auto st = check_images_independent(net);
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto in = make_example_inputs(net.model, 20);
  ASSERT_TRUE(in.ok()) << in.error().message;
  for (std::size_t k = 0; k < in->at(0).i.size(); ++k)
    in->at(0).i[k] = static_cast<std::int64_t>((k * 7 + 3) % 10);
  auto engine = Engine::create(net);
  ASSERT_TRUE(engine.ok());
  auto want = engine->run(*in);
  ASSERT_TRUE(want.ok()) << want.error().message;
  auto runner = SubBatchRunner::create(net);
  ASSERT_TRUE(runner.ok()) << runner.error().message;
  auto got = runner->run(*in);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->at(0).shape, (Shape{20, 6}));
  EXPECT_EQ(got->at(0).f, want->at(0).f);
  // The same lookup into the images themselves mixes them (RefusesEveryOpThatMixesImages).
}

std::vector<Tensor> image_batch(const Network& net, std::int64_t batch) {
  auto in = make_example_inputs(net.model, batch);
  EXPECT_TRUE(in.ok());
  const auto v = test::random_values(in->at(0).f.size(), 11, -2.0f, 2.0f);
  in->at(0).f.assign(v.begin(), v.end());
  return std::move(in).value();
}

TEST(SubBatchRunner, GivesEachSubBatchsEngineResultWhateverTheThreads) {
  for (const char* m : {"cnn", "vit"}) {
    const Network net = prepared(test::bundled_model(m));
    const auto in = image_batch(net, 20);  // sub-batches of 8, 8 and 4
    // Reference: one engine, one sub-batch at a time.
    FloatBuffer want;
    auto engine = Engine::create(net);
    ASSERT_TRUE(engine.ok());
    const std::int64_t row = in[0].size() / 20;
    for (std::int64_t b = 0; b < 20; b += 8) {
      Tensor part = in[0];
      part.shape[0] = std::min<std::int64_t>(8, 20 - b);
      part.f.assign(in[0].f.begin() + b * row, in[0].f.begin() + (b + part.shape[0]) * row);
      auto out = engine->run(std::vector<Tensor>{part});
      ASSERT_TRUE(out.ok()) << out.error().message;
      want.insert(want.end(), out->at(0).f.begin(), out->at(0).f.end());
    }
    for (int threads : {1, 2, 4}) {
      const tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                      static_cast<std::size_t>(threads));
      auto runner = SubBatchRunner::create(net);
      ASSERT_TRUE(runner.ok()) << runner.error().message;
      for (int rep = 0; rep < 2; ++rep) {  // engines reused across runs
        auto out = runner->run(in);
        ASSERT_TRUE(out.ok()) << out.error().message;
        EXPECT_EQ(out->at(0).shape, (Shape{20, 10})) << m;
        EXPECT_EQ(out->at(0).f, want) << m << ", " << threads << " threads, run " << rep;
      }
      // A batch of one sub-batch runs as it is.
      const auto small = image_batch(net, 5);
      auto whole = engine->run(small);
      ASSERT_TRUE(whole.ok()) << whole.error().message;
      auto out = runner->run(small);
      ASSERT_TRUE(out.ok()) << out.error().message;
      EXPECT_EQ(out->at(0).shape, (Shape{5, 10})) << m;
      EXPECT_EQ(out->at(0).f, whole->at(0).f) << m << ", " << threads << " threads, batch 5";
    }
  }
}

}  // namespace
}  // namespace mpq
