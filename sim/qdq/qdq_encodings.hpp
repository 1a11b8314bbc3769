#pragma once
// The encodings file of an export, in the layout of AIMET's encodings JSON (the de-facto
// exchange format of the mixed-precision tools): activation_encodings and param_encodings
// keyed by tensor name, each with bitwidth, dtype ("int"/"float"), scale, offset
// (= -zero_point), min/max and is_symmetric, arrays per channel, plus mpq's additions: the
// ONNX carrier type, the integer grid, the channel axis, the int32 biases, the per-quantizer
// format table and, when the caller has one, the per-group candidate table.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "qdq_export.hpp"
#include "qdq_format.hpp"
#include "sim/quant_config.hpp"

namespace mpq {

nlohmann::json make_encodings(const QuantConfig& cfg, const std::map<std::string, QdqFormat>& fs,
                              const QdqExportOptions& opts);

}  // namespace mpq
