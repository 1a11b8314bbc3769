// Canonicalization of decomposed activations and gates: each form exporters write becomes one
// op with one output quantizer, computing the same values (within 1e-5 relative).
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "canonical_harness.hpp"
#include "graph/canonicalize.hpp"

namespace mpq {
namespace {

using test::check_canonical;
using test::count_ops;
using test::OnnxBuilder;

const Shape kShape = {1, 4, 5, 6};

OnnxBuilder model_with_input(int opset = 13) {
  OnnxBuilder b(opset);
  b.input("x", {-1, 4, 5, 6});
  b.output("y", {-1, 4, 5, 6});
  return b;
}

// Clip(0, 6) of x + 3, in the opset's way of giving Clip its bounds.
std::string relu6_of_x_plus_3(OnnxBuilder& b, int opset) {
  b.node("Add", {"x", b.scalar("three", 3.0f)}, {"x3"});
  if (opset < 11) {
    auto* c = b.node("Clip", {"x3"}, {"r6"});
    OnnxBuilder::attr_float(c, "min", 0.0f);
    OnnxBuilder::attr_float(c, "max", 6.0f);
  } else {
    b.node("Clip", {"x3", b.scalar("zero", 0.0f), b.scalar("six", 6.0f)}, {"r6"});
  }
  return "r6";
}

void expect_single(const test::Canonicalized& c, const std::string& op, const char* pattern) {
  EXPECT_EQ(count_ops(c.after, op), 1);
  EXPECT_EQ(c.after.model.nodes.size(), 1u);
  EXPECT_EQ(test::activation_quantizers(c.after), 2u);  // the input and the fused op's output
  ASSERT_EQ(c.report.rewrites.size(), 1u);
  EXPECT_EQ(c.report.rewrites[0].pattern, pattern);
  EXPECT_TRUE(c.report.unfused.empty());
}

TEST(CanonicalActivations, HardSwishClipDivFormAtOpsets9And11) {
  for (int opset : {9, 11}) {
    OnnxBuilder b = model_with_input(opset);
    const std::string r6 = relu6_of_x_plus_3(b, opset);
    b.node("Mul", {"x", r6}, {"xr"});
    b.node("Div", {"xr", b.scalar("six_d", 6.0f)}, {"y"});
    auto c = check_canonical(b, "hswish_div_" + std::to_string(opset) + ".onnx", kShape);
    expect_single(c, "HardSwish", "HardSwish");
    EXPECT_EQ(test::activation_quantizers(c.before), 4u);  // x, Clip (Add fused), Mul, Div
  }
}

TEST(CanonicalActivations, HardSwishMulBySixthAndDivBeforeMul) {
  {  // (relu6(x + 3) * x) * (1/6)
    OnnxBuilder b = model_with_input();
    const std::string r6 = relu6_of_x_plus_3(b, 13);
    b.node("Mul", {r6, "x"}, {"xr"});
    b.node("Mul", {"xr", b.scalar("sixth", 1.0f / 6.0f)}, {"y"});
    expect_single(check_canonical(b, "hswish_mul.onnx", kShape), "HardSwish", "HardSwish");
  }
  {  // x * (relu6(x + 3) / 6): a HardSigmoid first, then x * HardSigmoid(x)
    OnnxBuilder b = model_with_input();
    const std::string r6 = relu6_of_x_plus_3(b, 13);
    b.node("Div", {r6, b.scalar("six_d", 6.0f)}, {"hs"});
    b.node("Mul", {"x", "hs"}, {"y"});
    auto c = check_canonical(b, "hswish_div_first.onnx", kShape);
    EXPECT_EQ(count_ops(c.after, "HardSwish"), 1);
    EXPECT_EQ(c.after.model.nodes.size(), 1u);
  }
}

TEST(CanonicalActivations, HardSwishAsXTimesHardSigmoid) {
  OnnxBuilder b = model_with_input();
  auto* h = b.node("HardSigmoid", {"x"}, {"hs"});
  OnnxBuilder::attr_float(h, "alpha", 1.0f / 6.0f);
  OnnxBuilder::attr_float(h, "beta", 0.5f);
  b.node("Mul", {"x", "hs"}, {"y"});
  expect_single(check_canonical(b, "hswish_hsig.onnx", kShape), "HardSwish", "HardSwish");
}

TEST(CanonicalActivations, HardSigmoidWrittenOut) {
  {  // Clip(x * 0.2 + 0.5, 0, 1), as Keras writes it
    OnnxBuilder b = model_with_input();
    b.node("Mul", {"x", b.scalar("a", 0.2f)}, {"xa"});
    b.node("Add", {"xa", b.scalar("half", 0.5f)}, {"xb"});
    b.node("Clip", {"xb", b.scalar("zero", 0.0f), b.scalar("one", 1.0f)}, {"y"});
    auto c = check_canonical(b, "hsig_keras.onnx", kShape);
    expect_single(c, "HardSigmoid", "HardSigmoid");
    EXPECT_FLOAT_EQ(c.after.model.nodes[0].attr_float("alpha", 0), 0.2f);
  }
  {  // relu6(x + 3) / 6
    OnnxBuilder b = model_with_input();
    const std::string r6 = relu6_of_x_plus_3(b, 13);
    b.node("Div", {r6, b.scalar("six_d", 6.0f)}, {"y"});
    expect_single(check_canonical(b, "hsig_relu6.onnx", kShape), "HardSigmoid", "HardSigmoid");
  }
}

TEST(CanonicalActivations, SiLU) {
  OnnxBuilder b = model_with_input();
  b.node("Sigmoid", {"x"}, {"s"});
  b.node("Mul", {"s", "x"}, {"y"});
  expect_single(check_canonical(b, "silu.onnx", kShape), kSiLUOp, "SiLU");
}

// 0.5 * x * (1 + erf(x / sqrt 2)) in the orders exporters write.
TEST(CanonicalActivations, GeluErfInEveryExporterOrder) {
  for (int form = 0; form < 5; ++form) {
    OnnxBuilder b = model_with_input();
    if (form == 1)
      b.node("Mul", {"x", b.scalar("rs2", static_cast<float>(1.0 / std::sqrt(2.0)))}, {"u"});
    else
      b.node("Div", {"x", b.scalar("s2", static_cast<float>(std::sqrt(2.0)))}, {"u"});
    b.node("Erf", {"u"}, {"e"});
    b.node("Add", {b.scalar("one", 1.0f), "e"}, {"a"});
    const std::string half = b.scalar("half", 0.5f);
    if (form == 0 || form == 1) {  // PyTorch: (x * a) * 0.5
      b.node("Mul", {"x", "a"}, {"xa"});
      b.node("Mul", {"xa", half}, {"y"});
    } else if (form == 2) {  // (0.5 * x) * a
      b.node("Mul", {half, "x"}, {"hx"});
      b.node("Mul", {"hx", "a"}, {"y"});
    } else if (form == 3) {  // (a * 0.5) * x
      b.node("Mul", {"a", half}, {"ah"});
      b.node("Mul", {"ah", "x"}, {"y"});
    } else {  // (x * a) / 2
      b.node("Mul", {"a", "x"}, {"xa"});
      b.node("Div", {"xa", b.scalar("two", 2.0f)}, {"y"});
    }
    SCOPED_TRACE("form " + std::to_string(form));
    expect_single(check_canonical(b, "gelu_" + std::to_string(form) + ".onnx", kShape), "Gelu",
                  "GELU");
  }
}

TEST(CanonicalActivations, GeluTanhWithPowAndWithProducts) {
  for (bool pow : {true, false}) {
    OnnxBuilder b = model_with_input();
    if (pow) {
      b.node("Pow", {"x", b.scalar("three", 3.0f)}, {"x3"});
    } else {
      b.node("Mul", {"x", "x"}, {"x2"});
      b.node("Mul", {"x2", "x"}, {"x3"});
    }
    b.node("Mul", {"x3", b.scalar("c", 0.044715f)}, {"cx3"});
    b.node("Add", {"x", "cx3"}, {"in"});
    b.node("Mul", {b.scalar("k", static_cast<float>(std::sqrt(2.0 / std::numbers::pi))), "in"},
           {"kin"});
    b.node("Tanh", {"kin"}, {"t"});
    b.node("Add", {"t", b.scalar("one", 1.0f)}, {"a"});
    b.node("Mul", {"x", b.scalar("half", 0.5f)}, {"hx"});
    b.node("Mul", {"hx", "a"}, {"y"});
    auto c =
        check_canonical(b, std::string("gelu_tanh_") + (pow ? "pow" : "mul") + ".onnx", kShape);
    expect_single(c, "Gelu", "GELU (tanh)");
    EXPECT_EQ(c.after.model.nodes[0].attr_string("approximate", ""), "tanh");
  }
}

TEST(CanonicalActivations, MishWithSoftplusAndWithLogOfOnePlusExp) {
  for (bool written : {false, true}) {
    OnnxBuilder b = model_with_input();
    if (written) {
      b.node("Exp", {"x"}, {"ex"});
      b.node("Add", {"ex", b.scalar("one", 1.0f)}, {"ex1"});
      b.node("Log", {"ex1"}, {"sp"});
    } else {
      b.node("Softplus", {"x"}, {"sp"});
    }
    b.node("Tanh", {"sp"}, {"t"});
    b.node("Mul", {"x", "t"}, {"y"});
    auto c =
        check_canonical(b, std::string("mish_") + (written ? "log" : "softplus") + ".onnx", kShape);
    EXPECT_EQ(count_ops(c.after, "Mish"), 1);
    EXPECT_EQ(c.after.model.nodes.size(), 1u);
  }
}

// The squeeze-excitation scale: x * gate(pool(x)); the gate gets no quantizer of its own.
TEST(CanonicalActivations, SqueezeExcitationScaleIsOneGatedMul) {
  for (bool hard : {false, true}) {
    OnnxBuilder b = model_with_input();
    b.node("GlobalAveragePool", {"x"}, {"p"});
    if (hard) {
      auto* h = b.node("HardSigmoid", {"p"}, {"g"});
      OnnxBuilder::attr_float(h, "alpha", 1.0f / 6.0f);
    } else {
      b.node("Sigmoid", {"p"}, {"g"});
    }
    b.node("Mul", {"x", "g"}, {"y"});
    auto c = check_canonical(b, std::string("se_") + (hard ? "hard" : "sigmoid") + ".onnx", kShape);
    EXPECT_EQ(count_ops(c.after, kGateMulOp), 1);
    EXPECT_EQ(test::activation_quantizers(c.before), 4u);  // x, pool, gate, product
    EXPECT_EQ(test::activation_quantizers(c.after), 3u);   // x, pool, product
  }
}

// Partial matches are left as they are and listed with the reason; the model still runs.
TEST(CanonicalActivations, PartialMatchesAreLeftUnfusedAndListed) {
  {  // GELU whose product multiplies another tensor than x
    OnnxBuilder b = model_with_input();
    b.input("z", {-1, 4, 5, 6});
    b.node("Div", {"x", b.scalar("s2", static_cast<float>(std::sqrt(2.0)))}, {"u"});
    b.node("Erf", {"u"}, {"e"});
    b.node("Add", {"e", b.scalar("one", 1.0f)}, {"a"});
    b.node("Mul", {"z", "a"}, {"za"});
    b.node("Mul", {"za", b.scalar("half", 0.5f)}, {"y"});
    CanonicalizationReport report;
    auto net = test::prepared_canonical(b.save("gelu_other_x.onnx"), report);
    EXPECT_EQ(count_ops(net, "Erf"), 1);
    ASSERT_EQ(report.unfused.size(), 1u);
    EXPECT_EQ(report.unfused[0].pattern, "GELU");
    EXPECT_NE(report.unfused[0].reason.find("'z'"), std::string::npos) << report.unfused[0].reason;
  }
  {  // SiLU whose Sigmoid output is also a graph output
    OnnxBuilder b = model_with_input();
    b.output("s", {-1, 4, 5, 6});
    b.node("Sigmoid", {"x"}, {"s"});
    b.node("Mul", {"x", "s"}, {"y"});
    CanonicalizationReport report;
    auto net = test::prepared_canonical(b.save("silu_shared.onnx"), report);
    EXPECT_EQ(count_ops(net, "Sigmoid"), 1);
    ASSERT_EQ(report.unfused.size(), 1u);
    EXPECT_NE(report.unfused[0].reason.find("graph output"), std::string::npos);
  }
}

}  // namespace
}  // namespace mpq
