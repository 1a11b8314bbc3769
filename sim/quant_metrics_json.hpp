#pragma once
// QuantMetrics as JSON, as the phase-1 journal, the sensitivity list, the explorer's results
// and `mpq quantize --json` write it (SQNR may be infinite: core/json_number.hpp).
#include <nlohmann/json.hpp>

#include "quant_metrics.hpp"

namespace mpq {

nlohmann::json metrics_to_json(const QuantMetrics& m);
QuantMetrics metrics_from_json(const nlohmann::json& j);

}  // namespace mpq
