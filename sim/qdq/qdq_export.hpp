#pragma once
// Export of a quantization configuration as an ONNX QDQ model: the prepared network (BatchNorm
// and constants folded, as mpq simulates it) with QuantizeLinear/DequantizeLinear pairs where
// mpq's quantizers sit, so that any ONNX runtime computes what mpq's simulator computes.
//   weights      integer initializer (already on the grid) -> DequantizeLinear (axis per channel)
//   activations  producer -> [Clip: narrow grid on a wider carrier] -> Q -> DQ -> consumers
//   int32 biases int32 initializer -> DequantizeLinear, scale s_w x s_a
//   fp16/bf16    Cast to float16/bfloat16 and back (weights: a float16/bfloat16 initializer)
//   fp8          Q/DQ with float8 types (opset 19 on)
// Tensor names stay those of the prepared network (and of the configuration): a DQ output
// takes the quantized tensor's name, the float value before it gets a suffix.
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.hpp"
#include "graph/network.hpp"
#include "qdq_format.hpp"
#include "sim/quant_config.hpp"

namespace mpq {

inline constexpr int kDefaultExportOpset = 21;  // first with int4 and int16 Q/DQ
inline constexpr int kMaxExportOpset = 21;

// NOLINTNEXTLINE(bugprone-exception-escape): clang-tidy 14 on nlohmann::json members
struct QdqExportOptions {
  int opset = kDefaultExportOpset;
  std::string config_source;  // recorded in metadata_props and the encodings
  // Optional per-group candidate table for the encodings file (the explorer's groups), as
  // [{"group": ..., "candidate": "W4A8", "quantizers": [...]}, ...]; null: none.
  nlohmann::json groups;
};

// NOLINTNEXTLINE(bugprone-exception-escape): clang-tidy 14 on nlohmann::json members
struct QdqExport {
  std::string model;  // the serialized ModelProto, checked by onnx::checker::check_model
  nlohmann::json encodings;
  int opset = 0;
  int ir_version = 0;
  QdqNodeCounts counts;  // the nodes inserted
};

// Errors: a format the opset cannot represent, a model the opset conversion cannot handle,
// or a model the checker rejects. The configuration must come from config_from_json (or
// read_config) for `net`, which already rejects quantizer names the model lacks.
Result<QdqExport> export_qdq(const Network& net, const QuantConfig& cfg,
                             const QdqExportOptions& opts);

// Writes the model (and the encodings, when `encodings_path` is not empty) through temporary
// files and renames; on an error neither file is left behind.
Status write_qdq_export(const QdqExport& e, const std::string& model_path,
                        const std::string& encodings_path);

}  // namespace mpq
