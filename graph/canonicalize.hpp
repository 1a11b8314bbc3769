#pragma once
// Canonicalization before quantizer placement: rewrites what exporters write out op by op into
// the ops a deployment toolchain runs as one, so that quantizers sit where that toolchain puts
// them (one after each fused op) and nowhere inside a pattern. Every rewrite computes the same
// function in float, up to rounding.
//   affine chains  Mul/Add/Sub/Div by per-channel constants after Conv, ConvTranspose, Gemm or
//                  MatMul with a constant weight: folded into the weight and bias
//   activations    HardSwish, HardSigmoid, SiLU (x * Sigmoid(x)), GELU (erf and tanh forms),
//                  Mish, Softplus written out: one op each
//   normalizations LayerNormalization (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, and
//                  the Reciprocal/Mul variant, optional Mul/Add affine) and RMSNorm
//   gates          x * Sigmoid(g) or x * HardSigmoid(g) (the squeeze-excitation scale): one op
//                  whose gate gets no quantizer of its own
// A pattern whose start is recognized but whose rest does not match (an intermediate read
// elsewhere, a constant that is not the pattern's, another tensor where x should be) is left as
// it is and listed with the reason.
#include <map>
#include <string>
#include <vector>

#include "model.hpp"

namespace mpq {

// Op types of the fused ops with no ONNX op (mpq's domain, documented in README.md):
//   mpq::SiLU(X)                   Y = X * sigmoid(X)
//   mpq::RMSNormalization(X[, S])  Y = X / sqrt(mean(X^2 over the axes from `axis`) + epsilon)
//                                  * S; attributes axis (default -1), epsilon (1e-5), as ONNX's
//                                  RMSNormalization of opset 23
//   mpq::GateMul(X, G)             Y = X * gate(G), gate Sigmoid or HardSigmoid (attribute
//                                  `gate`, with `alpha`, `beta` for HardSigmoid); broadcasting
inline constexpr const char* kSiLUOp = "mpq::SiLU";
inline constexpr const char* kRMSNormOp = "mpq::RMSNormalization";
inline constexpr const char* kGateMulOp = "mpq::GateMul";

struct CanonicalRewrite {
  std::string pattern;                // "affine chain", "HardSwish", "LayerNormalization", ...
  std::string node;                   // the fused op, or the op the chain folded into
  std::vector<std::string> replaced;  // labels of the nodes it replaced
};

struct UnfusedPattern {
  std::string pattern;
  std::string at;  // label of the node where the match started
  std::string reason;
};

struct CanonicalizationReport {
  std::vector<CanonicalRewrite> rewrites;
  std::vector<UnfusedPattern> unfused;
  bool ran = false;  // false when preparation skipped the pass

  // Rewrites per pattern, in the pass's order of patterns.
  std::vector<std::pair<std::string, int>> counts() const;
  // "12 affine chains folded, 8 HardSwish, 3 LayerNormalization" ("nothing" when empty).
  std::string summary() const;
};

// Rewrites `m` in place. `shapes` holds every tensor's shape at batch 1 (sim's shape pass):
// the matchers use them to tell per-channel constants from others and to reject broadcasts
// that would change a tensor's shape.
CanonicalizationReport canonicalize(Model& m, const std::map<std::string, Shape>& shapes);

}  // namespace mpq
