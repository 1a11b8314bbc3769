// ONNX import: the error paths a user meets and the forms real exporters write.
#include <gtest/gtest.h>

#include <fstream>

#include "graph/onnx_import.hpp"
#include "onnx_builder.hpp"
#include "sim/prepare.hpp"

namespace mpq {
namespace {

using test::OnnxBuilder;

std::string relu_model(const std::string& file, const std::vector<std::int64_t>& in_dims) {
  OnnxBuilder b;
  b.input("x", in_dims);
  b.output("y", in_dims);
  b.node("Relu", {"x"}, {"y"});
  return b.save(file);
}

TEST(Import, MissingFileNamesThePath) {
  auto m = load_onnx("/nonexistent/model.onnx");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("/nonexistent/model.onnx"), std::string::npos);
}

TEST(Import, NotOnnxAndTruncatedFilesAreRejected) {
  const std::string good = relu_model("relu_full.onnx", {1, 4});
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string truncated = good + ".half";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const std::string text = good + ".txt";
  std::ofstream(text) << "this is not a model\n";
  for (const auto& path : {truncated, text}) {
    auto m = load_onnx(path);
    ASSERT_FALSE(m.ok()) << path;
    EXPECT_NE(m.error().message.find("not a valid ONNX model"), std::string::npos)
        << m.error().message;
  }
}

TEST(Import, EveryUnsupportedOpIsListedWithItsNodes) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.output("z", {1, 4});
  b.node("FancyOp", {"x"}, {"a"}, "fancy1");
  b.node("FancyOp", {"a"}, {"b"}, "fancy2");
  b.node("Relu", {"b"}, {"c"});
  b.node("OtherOp", {"c"}, {"z"}, "other");
  auto m = load_onnx(b.save("unsupported.onnx"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  auto st = check_supported(*m);
  ASSERT_FALSE(st.ok());
  const std::string& msg = st.error().message;
  for (const char* s : {"FancyOp", "fancy1", "fancy2", "OtherOp", "other"})
    EXPECT_NE(msg.find(s), std::string::npos) << s << " missing from: " << msg;
  EXPECT_EQ(msg.find("Relu"), std::string::npos) << msg;
}

TEST(Import, ConstantNodesBecomeInitializers) {
  OnnxBuilder b(9);
  b.input("x", {1, 3});
  b.output("y", {1, 3});
  b.constant("w", OnnxBuilder::tensor("w", {3}, {1.0f, 2.0f, 3.0f}));
  b.node("Mul", {"x", "w"}, {"y"});
  auto m = load_onnx(b.save("constant_nodes.onnx"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->opset, 9);
  ASSERT_EQ(m->nodes.size(), 1u);
  EXPECT_EQ(m->nodes[0].op_type, "Mul");
  ASSERT_TRUE(m->is_constant("w"));
  EXPECT_EQ(m->initializers.at("w").f, (FloatBuffer{1.0f, 2.0f, 3.0f}));
}

TEST(Import, DynamicDimsResolvedFromGivenShapeAndMismatchesRejected) {
  const std::string path = relu_model("dynamic.onnx", {-1, 3, -1});
  ImportOptions ok;
  ok.input_shapes["x"] = {2, 3, 5};
  auto m = load_onnx(path, ok);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->inputs[0].dims, (Shape{2, 3, 5}));

  ImportOptions rank;
  rank.input_shapes["x"] = {2, 3};
  auto r = load_onnx(path, rank);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("rank"), std::string::npos) << r.error().message;

  ImportOptions fixed;
  fixed.input_shapes["x"] = {2, 4, 5};
  auto f = load_onnx(path, fixed);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("fixed dimension 1"), std::string::npos) << f.error().message;

  ImportOptions unknown;
  unknown.input_shapes["nope"] = {1};
  auto u = load_onnx(path, unknown);
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("inputs are: x"), std::string::npos) << u.error().message;
}

TEST(Import, ExternalDataIsRejectedWithAHint) {
  OnnxBuilder b;
  b.input("x", {1, 2});
  b.output("y", {1, 2});
  auto t = OnnxBuilder::tensor("w", {2}, {});
  t.set_data_location(onnx::TensorProto::EXTERNAL);
  auto* e = t.add_external_data();
  e->set_key("location");
  e->set_value("weights.bin");
  *b.g->add_initializer() = t;
  b.node("Add", {"x", "w"}, {"y"});
  auto m = load_onnx(b.save("external.onnx"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("external data"), std::string::npos) << m.error().message;
}

TEST(Import, ParseInputShape) {
  auto a = parse_input_shape("x:1x3x224x224");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "x");
  EXPECT_EQ(a->second, (Shape{1, 3, 224, 224}));
  auto b = parse_input_shape("8x10");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "");
  EXPECT_FALSE(parse_input_shape("x:1x0").ok());
  EXPECT_FALSE(parse_input_shape("x:1xa").ok());
}

}  // namespace
}  // namespace mpq
