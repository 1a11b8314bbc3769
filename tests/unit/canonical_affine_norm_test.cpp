// Canonicalization of per-channel affine chains (folded into the weighted op before them) and
// of LayerNorm / RMSNorm written out: same values within 1e-5 relative, fewer quantizers.
#include <gtest/gtest.h>

#include "canonical_harness.hpp"
#include "graph/canonicalize.hpp"

namespace mpq {
namespace {

using test::check_canonical;
using test::count_ops;
using test::OnnxBuilder;
using test::random_values;

void constant(OnnxBuilder& b, const std::string& name, const std::vector<std::int64_t>& dims,
              unsigned seed, float lo = -1.5f, float hi = 1.5f) {
  std::int64_t n = 1;
  for (auto d : dims) n *= d;
  b.initializer(name, dims, random_values(static_cast<std::size_t>(n), seed, lo, hi));
}

// Conv -> Mul [1,C,1,1] -> Add [C,1,1] -> Sub scalar -> Div [C,1,1], then ConvTranspose ->
// c - x [1,C,1,1]: both chains fold, only the two convolutions remain.
TEST(CanonicalAffine, ChainsAfterConvAndConvTransposeFoldIntoWeightsAndBias) {
  OnnxBuilder b;
  b.input("x", {-1, 3, 6, 6});
  b.output("y", {-1, 4, 7, 7});
  constant(b, "w", {4, 3, 3, 3}, 1);
  b.node("Conv", {"x", "w"}, {"c"});
  constant(b, "s", {1, 4, 1, 1}, 2, 0.5f, 1.5f);
  b.node("Mul", {"c", "s"}, {"cs"});
  constant(b, "t", {4, 1, 1}, 3);
  b.node("Add", {"t", "cs"}, {"ct"});
  b.node("Sub", {"ct", b.scalar("u", 0.25f)}, {"cu"});
  constant(b, "d", {4, 1, 1}, 4, 0.5f, 2.0f);
  b.node("Div", {"cu", "d"}, {"cd"});
  constant(b, "w2", {4, 2, 2, 2}, 5);
  auto* ct = b.node("ConvTranspose", {"cd", "w2"}, {"ctr"});
  OnnxBuilder::attr_int(ct, "group", 2);
  constant(b, "k", {1, 4, 1, 1}, 6);
  b.node("Sub", {"k", "ctr"}, {"y"});
  auto c = check_canonical(b, "affine_conv.onnx", {2, 3, 6, 6});
  EXPECT_EQ(c.after.model.nodes.size(), 2u);
  EXPECT_EQ(c.report.summary(), "2 affine chains folded");
  EXPECT_EQ(test::activation_quantizers(c.before), 8u);  // the input and every op
  EXPECT_EQ(test::activation_quantizers(c.after), 3u);
}

// Gemm -> Mul [C] -> Add [1,C]; MatMul (constant weight, 3-D input) -> Add [C] -> Mul [C]
// becomes MatMul -> Add (the MatMul has no bias input).
TEST(CanonicalAffine, ChainsAfterGemmAndMatMulFoldAlongTheLastAxis) {
  OnnxBuilder b;
  b.input("x", {-1, 5, 8});
  b.output("y", {-1, 5, 6});
  b.output("g", {-1, 6});
  constant(b, "wm", {8, 6}, 1);
  b.node("MatMul", {"x", "wm"}, {"m"});
  constant(b, "bm", {6}, 2);
  b.node("Add", {"m", "bm"}, {"mb"});
  constant(b, "sm", {6}, 3);
  b.node("Mul", {"mb", "sm"}, {"y"});
  auto* r = b.node("Flatten", {"x"}, {"xf"});
  OnnxBuilder::attr_int(r, "axis", 1);
  constant(b, "wg", {6, 40}, 4);
  constant(b, "bg", {6}, 5);
  auto* g = b.node("Gemm", {"xf", "wg", "bg"}, {"gm"});
  OnnxBuilder::attr_int(g, "transB", 1);
  OnnxBuilder::attr_float(g, "alpha", 0.5f);
  constant(b, "sg", {6}, 6);
  b.node("Mul", {"sg", "gm"}, {"gs"});
  constant(b, "tg", {1, 6}, 7);
  b.node("Add", {"gs", "tg"}, {"g"});
  auto c = check_canonical(b, "affine_gemm.onnx", {2, 5, 8});
  EXPECT_EQ(count_ops(c.after, "Mul"), 0);
  EXPECT_EQ(count_ops(c.after, "Add"), 1);  // the MatMul's bias
  EXPECT_EQ(c.report.rewrites.size(), 2u);
}

TEST(CanonicalAffine, ConstantsThatAreNotPerChannelAndSharedOutputsStay) {
  OnnxBuilder b;
  b.input("x", {-1, 3, 6, 6});
  b.output("y", {-1, 4, 6, 6});
  b.output("z", {-1, 4, 6, 6});
  constant(b, "w", {4, 3, 1, 1}, 1);
  b.node("Conv", {"x", "w"}, {"c"});
  constant(b, "s", {6}, 2);  // varies along the width, not the channels
  b.node("Mul", {"c", "s"}, {"y"});
  constant(b, "w2", {4, 3, 1, 1}, 3);
  b.node("Conv", {"x", "w2"}, {"c2"});
  constant(b, "t", {1, 4, 1, 1}, 4);
  b.node("Add", {"c2", "t"}, {"z"});
  b.node("Relu", {"c2"}, {"r"});  // a second reader of c2
  b.output("r", {-1, 4, 6, 6});
  auto c = check_canonical(b, "affine_partial.onnx", {1, 3, 6, 6});
  EXPECT_EQ(c.after.model.nodes.size(), c.before.model.nodes.size());
  ASSERT_EQ(c.report.unfused.size(), 2u);
  EXPECT_NE(c.report.unfused[0].reason.find("not the channel axis"), std::string::npos)
      << c.report.unfused[0].reason;
  EXPECT_NE(c.report.unfused[1].reason.find("2 consumers"), std::string::npos)
      << c.report.unfused[1].reason;
}

// LayerNorm as opset-9..16 exporters write it (x: [N, T, D], over D; and over the last two).
void layer_norm(OnnxBuilder& b, bool reciprocal, bool pow, bool affine,
                std::vector<std::int64_t> axes) {
  auto* m1 = b.node("ReduceMean", {"x"}, {"mu"});
  OnnxBuilder::attr_ints(m1, "axes", axes);
  b.node("Sub", {"x", "mu"}, {"d"});
  if (pow)
    b.node("Pow", {"d", b.scalar("two", 2.0f)}, {"d2"});
  else
    b.node("Mul", {"d", "d"}, {"d2"});
  auto* m2 = b.node("ReduceMean", {"d2"}, {"var"});
  OnnxBuilder::attr_ints(m2, "axes", axes);
  b.node("Add", {"var", b.scalar("eps", 1e-5f)}, {"ve"});
  b.node("Sqrt", {"ve"}, {"sd"});
  const std::string y = affine ? "n" : "y";
  if (reciprocal) {
    b.node("Reciprocal", {"sd"}, {"rs"});
    b.node("Mul", {"d", "rs"}, {y});
  } else {
    b.node("Div", {"d", "sd"}, {y});
  }
  if (!affine) return;
  constant(b, "gamma", {8}, 11, 0.5f, 1.5f);
  b.node("Mul", {"n", "gamma"}, {"ng"});
  constant(b, "beta", {1, 1, 8}, 12);
  b.node("Add", {"ng", "beta"}, {"y"});
}

TEST(CanonicalNorm, LayerNormWithAndWithoutAffineAndReciprocal) {
  for (int variant = 0; variant < 4; ++variant) {
    const bool reciprocal = variant & 1, affine = variant & 2;
    OnnxBuilder b(13);
    b.input("x", {-1, 5, 8});
    b.output("y", {-1, 5, 8});
    layer_norm(b, reciprocal, !reciprocal, affine, {-1});
    SCOPED_TRACE("variant " + std::to_string(variant));
    auto c = check_canonical(b, "ln_" + std::to_string(variant) + ".onnx", {2, 5, 8});
    ASSERT_EQ(c.after.model.nodes.size(), 1u);
    EXPECT_EQ(c.after.model.nodes[0].op_type, "LayerNormalization");
    EXPECT_EQ(c.after.model.nodes[0].inputs.size(), affine ? 3u : 2u);
    EXPECT_EQ(test::activation_quantizers(c.after), 2u);
  }
  OnnxBuilder b(13);  // over the last two axes
  b.input("x", {-1, 5, 8});
  b.output("y", {-1, 5, 8});
  layer_norm(b, false, true, false, {1, 2});
  auto c = check_canonical(b, "ln_two_axes.onnx", {2, 5, 8});
  ASSERT_EQ(c.after.model.nodes.size(), 1u);
  EXPECT_EQ(c.after.model.nodes[0].attr_int("axis", 0), 1);
}

TEST(CanonicalNorm, LayerNormWithAnEpsilonThatIsNotAConstantIsListed) {
  OnnxBuilder b(13);
  b.input("x", {-1, 5, 8});
  b.input("e", {1});
  b.output("y", {-1, 5, 8});
  auto* m1 = b.node("ReduceMean", {"x"}, {"mu"});
  OnnxBuilder::attr_ints(m1, "axes", {-1});
  b.node("Sub", {"x", "mu"}, {"d"});
  b.node("Pow", {"d", b.scalar("two", 2.0f)}, {"d2"});
  auto* m2 = b.node("ReduceMean", {"d2"}, {"var"});
  OnnxBuilder::attr_ints(m2, "axes", {-1});
  b.node("Add", {"var", "e"}, {"ve"});
  b.node("Sqrt", {"ve"}, {"sd"});
  b.node("Div", {"d", "sd"}, {"y"});
  CanonicalizationReport report;
  auto net = test::prepared_canonical(b.save("ln_eps_input.onnx"), report);
  EXPECT_EQ(count_ops(net, "LayerNormalization"), 0);
  bool listed = false;
  for (const auto& u : report.unfused)
    listed = listed || (u.pattern == "LayerNormalization" &&
                        u.reason.find("epsilon is not a constant") != std::string::npos);
  EXPECT_TRUE(listed);
}

TEST(CanonicalNorm, RMSNormWithDivAndWithReciprocalAndScale) {
  for (bool reciprocal : {false, true}) {
    OnnxBuilder b(13);
    b.input("x", {-1, 5, 8});
    b.output("y", {-1, 5, 8});
    b.node("Pow", {"x", b.scalar("two", 2.0f)}, {"x2"});
    auto* m = b.node("ReduceMean", {"x2"}, {"ms"});
    OnnxBuilder::attr_ints(m, "axes", {-1});
    b.node("Add", {"ms", b.scalar("eps", 1e-6f)}, {"me"});
    b.node("Sqrt", {"me"}, {"rt"});
    if (reciprocal) {
      b.node("Reciprocal", {"rt"}, {"inv"});
      b.node("Mul", {"x", "inv"}, {"n"});
    } else {
      b.node("Div", {"x", "rt"}, {"n"});
    }
    constant(b, "gamma", {8}, 3, 0.5f, 1.5f);
    b.node("Mul", {"gamma", "n"}, {"y"});
    auto c =
        check_canonical(b, std::string("rms_") + (reciprocal ? "rcp" : "div") + ".onnx", {2, 5, 8});
    ASSERT_EQ(c.after.model.nodes.size(), 1u);
    EXPECT_EQ(c.after.model.nodes[0].op_type, kRMSNormOp);
    EXPECT_EQ(c.after.model.nodes[0].inputs.size(), 2u);
  }
}

}  // namespace
}  // namespace mpq
