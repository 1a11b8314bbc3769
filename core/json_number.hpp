#pragma once
// Doubles that may be infinite or NaN in JSON (which has neither): as numbers, or
// "inf"/"-inf"/null.
#include <nlohmann/json.hpp>

namespace mpq {

nlohmann::json number_to_json(double v);
double number_from_json(const nlohmann::json& j);

}  // namespace mpq
