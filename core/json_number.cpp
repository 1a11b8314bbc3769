#include "json_number.hpp"

#include <cmath>
#include <limits>
#include <string>

namespace mpq {

nlohmann::json number_to_json(double v) {
  if (std::isnan(v)) return nullptr;
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

double number_from_json(const nlohmann::json& j) {
  if (j.is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (j.is_string())
    return (j.get<std::string>() == "inf" ? 1 : -1) * std::numeric_limits<double>::infinity();
  return j.get<double>();
}

}  // namespace mpq
