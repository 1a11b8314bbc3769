// Graph preparation: BatchNorm folding and constant folding keep the function of the network,
// and MACs/params are counted from the inferred shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "graph/onnx_import.hpp"
#include "onnx_builder.hpp"
#include "prepared_network.hpp"
#include "sim/engine.hpp"
#include "sim/prepare.hpp"

namespace mpq {
namespace {

using test::OnnxBuilder;
using test::prepared;
using test::random_values;

Tensor run1(const Network& net, const Tensor& x) {
  auto e = Engine::create(net);
  EXPECT_TRUE(e.ok()) << e.error().message;
  std::vector<Tensor> in{x};
  auto out = e->run(in);
  EXPECT_TRUE(out.ok()) << out.error().message;
  return out->at(0);
}

int count_op(const Network& net, const std::string& op) {
  int c = 0;
  for (const auto& n : net.model.nodes) c += n.op_type == op;
  return c;
}

void add_bn(OnnxBuilder& b, const std::string& in, const std::string& out, std::int64_t c,
            unsigned seed) {
  b.initializer(out + "_g", {c}, random_values(static_cast<std::size_t>(c), seed, 0.5f, 1.5f));
  b.initializer(out + "_b", {c}, random_values(static_cast<std::size_t>(c), seed + 1));
  b.initializer(out + "_m", {c}, random_values(static_cast<std::size_t>(c), seed + 2));
  b.initializer(out + "_v", {c}, random_values(static_cast<std::size_t>(c), seed + 3, 0.1f, 2.0f));
  b.node("BatchNormalization", {in, out + "_g", out + "_b", out + "_m", out + "_v"}, {out});
}

void expect_close(const Tensor& a, const Tensor& b, float tol) {
  ASSERT_EQ(a.shape, b.shape);
  for (std::size_t k = 0; k < a.f.size(); ++k)
    ASSERT_NEAR(a.f[k], b.f[k], tol * (1.0f + std::abs(b.f[k]))) << "element " << k;
}

TEST(Prepare, BatchNormFoldsIntoConvConvTransposeAndGemm) {
  OnnxBuilder b;
  b.input("x", {-1, 3, 8, 8});
  b.output("y", {-1, 5});
  b.initializer("w1", {4, 3, 3, 3}, random_values(108, 1));
  b.initializer("b1", {4}, random_values(4, 2));
  b.node("Conv", {"x", "w1", "b1"}, {"c1"});
  add_bn(b, "c1", "bn1", 4, 10);
  b.initializer("w2", {4, 2, 2, 2}, random_values(32, 3));  // ConvTranspose, group 2
  auto* ct = b.node("ConvTranspose", {"bn1", "w2"}, {"c2"});
  OnnxBuilder::attr_int(ct, "group", 2);
  OnnxBuilder::attr_ints(ct, "strides", {2, 2});
  add_bn(b, "c2", "bn2", 4, 20);
  b.node("GlobalAveragePool", {"bn2"}, {"p"});
  b.node("Flatten", {"p"}, {"f"});
  b.initializer("w3", {5, 4}, random_values(20, 4));
  b.initializer("b3", {5}, random_values(5, 5));
  auto* gm = b.node("Gemm", {"f", "w3", "b3"}, {"g"});
  OnnxBuilder::attr_int(gm, "transB", 1);
  add_bn(b, "g", "y", 5, 30);
  const std::string path = b.save("bn_fold.onnx");

  PrepareOptions keep;
  keep.fold_batchnorm = false;
  const Network unfolded = prepared(path, keep);
  const Network folded = prepared(path);
  EXPECT_EQ(count_op(unfolded, "BatchNormalization"), 3);
  EXPECT_EQ(count_op(folded, "BatchNormalization"), 0);

  Tensor x = Tensor::zeros({2, 3, 8, 8});
  const auto xv = random_values(x.f.size(), 99);
  x.f.assign(xv.begin(), xv.end());
  expect_close(run1(folded, x), run1(unfolded, x), 1e-5f);
}

OnnxBuilder flatten_by_shape_chain(std::int64_t batch) {
  // What PyTorch writes for x.view(x.size(0), -1).
  OnnxBuilder b;
  b.input("x", {batch, 2, 3});
  b.output("y", {batch, 6});
  b.node("Shape", {"x"}, {"s"});
  b.constant("zero", OnnxBuilder::int_tensor("zero", {}, {0}));
  auto* ga = b.node("Gather", {"s", "zero"}, {"n"});
  OnnxBuilder::attr_int(ga, "axis", 0);
  b.constant("axes", OnnxBuilder::int_tensor("axes", {1}, {0}));
  b.node("Unsqueeze", {"n", "axes"}, {"n1"});
  b.constant("minus1", OnnxBuilder::int_tensor("minus1", {1}, {-1}));
  auto* cc = b.node("Concat", {"n1", "minus1"}, {"shape"});
  OnnxBuilder::attr_int(cc, "axis", 0);
  b.node("Reshape", {"x", "shape"}, {"y"});
  return b;
}

TEST(Prepare, ShapeChainsFoldWhenStaticAndStayWhenBatchIsDynamic) {
  const Network fixed = prepared(flatten_by_shape_chain(4).save("chain_static.onnx"));
  EXPECT_EQ(fixed.model.nodes.size(), 1u);  // only the Reshape is left
  EXPECT_EQ(count_op(fixed, "Shape"), 0);

  const Network dynamic = prepared(flatten_by_shape_chain(-1).save("chain_dynamic.onnx"));
  EXPECT_EQ(count_op(dynamic, "Shape"), 1);
  Tensor x = Tensor::zeros({3, 2, 3});
  const auto xv = random_values(18, 7);
  x.f.assign(xv.begin(), xv.end());
  const Tensor y = run1(dynamic, x);
  EXPECT_EQ(y.shape, (Shape{3, 6}));
  EXPECT_EQ(y.f, x.f);
}

TEST(Prepare, MacsAndParamsFromInferredShapes) {
  OnnxBuilder b;
  b.input("x", {-1, 3, 10, 10});
  b.output("y", {-1, 7});
  b.initializer("w", {8, 3, 3, 3}, random_values(216, 1));
  auto* c = b.node("Conv", {"x", "w"}, {"c"});
  OnnxBuilder::attr_ints(c, "pads", {1, 1, 1, 1});
  b.initializer("dw", {8, 1, 3, 3}, random_values(72, 2));
  auto* d = b.node("Conv", {"c", "dw"}, {"d"});
  OnnxBuilder::attr_int(d, "group", 8);
  b.node("Flatten", {"d"}, {"f"});
  b.initializer("fc", {512, 7}, random_values(512 * 7, 3));
  b.node("MatMul", {"f", "fc"}, {"y"});
  const Network net = prepared(b.save("macs.onnx"));
  ASSERT_EQ(net.stats.size(), 4u);
  EXPECT_EQ(net.shapes.at("c"), (Shape{1, 8, 10, 10}));
  EXPECT_EQ(net.shapes.at("d"), (Shape{1, 8, 8, 8}));
  EXPECT_EQ(net.stats[0].macs, 8 * 10 * 10 * 3 * 3 * 3);
  EXPECT_EQ(net.stats[0].params, 216);
  EXPECT_EQ(net.stats[1].macs, 8 * 8 * 8 * 9);  // depthwise: one channel per filter
  EXPECT_EQ(net.stats[3].macs, 512 * 7);
}

TEST(Prepare, UndefinedTensorAndShapeErrorsNameTheNode) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.output("y", {1, 4});
  b.node("Add", {"x", "ghost"}, {"y"}, "adder");
  auto m = load_onnx(b.save("undefined.onnx"));
  ASSERT_TRUE(m.ok());
  auto n = prepare_network(std::move(m).value());
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.error().message.find("ghost"), std::string::npos) << n.error().message;
  EXPECT_NE(n.error().message.find("adder"), std::string::npos) << n.error().message;

  OnnxBuilder c;
  c.input("x", {1, 4});
  c.output("y", {1, 4});
  c.initializer("w", {5, 3}, random_values(15, 1));
  c.node("MatMul", {"x", "w"}, {"y"}, "mm");
  auto m2 = load_onnx(c.save("mismatch.onnx"));
  ASSERT_TRUE(m2.ok());
  auto n2 = prepare_network(std::move(m2).value());
  ASSERT_FALSE(n2.ok());
  EXPECT_NE(n2.error().message.find("mm"), std::string::npos) << n2.error().message;
}

}  // namespace
}  // namespace mpq
