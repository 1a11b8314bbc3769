#pragma once
// The nodes and initializers that stand for one quantizer in the exported graph: activation
// Q/DQ (with a Clip for a narrow grid on a wider carrier), weights stored on their grid with a
// DequantizeLinear, int32 biases, and Cast pairs for fp16/bf16.
#include <span>
#include <string>

#include "qdq_builder.hpp"
#include "qdq_format.hpp"
#include "sim/quant_config.hpp"

namespace mpq {

class QdqEmitter {
 public:
  explicit QdqEmitter(QdqBuilder& b) : b_(b) {}

  // src -> [Clip] -> QuantizeLinear -> DequantizeLinear -> dst (or Cast -> Cast).
  void activation(const std::string& src, const std::string& dst, const QuantParams& p,
                  const QdqFormat& f);
  // A weight on its grid (integer, fp8 or fp16/bf16 initializer) -> DequantizeLinear (axis per
  // channel) or Cast -> `name`, with fake_quantize's arithmetic; `ints`, when not empty, are the
  // integers to store instead (AdaRound's).
  void weight(const std::string& name, const Tensor& w, const QuantParams& p, const QdqFormat& f,
              std::span<const std::int32_t> ints = {});
  // int32 initializer -> DequantizeLinear (scale s_w x s_a per output channel) -> `name`, with
  // quantize_bias's arithmetic.
  void bias(const std::string& name, const Tensor& b, const BiasSetting& s);

  QdqNodeCounts counts;

 private:
  QdqBuilder& b_;
};

}  // namespace mpq
