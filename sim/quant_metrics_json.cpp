#include "quant_metrics_json.hpp"

#include "core/json_number.hpp"

namespace mpq {

nlohmann::json metrics_to_json(const QuantMetrics& m) {
  nlohmann::json j = {{"samples", m.samples},
                      {"sqnr_db", number_to_json(m.sqnr_db)},
                      {"top1_agreement", number_to_json(m.agreement)},
                      {"kl_divergence", number_to_json(m.kl)},
                      {"mse", number_to_json(m.mse)}};
  if (m.accuracy) {
    j["top1_accuracy"] = *m.accuracy;
    j["float_top1_accuracy"] = *m.float_accuracy;
  }
  if (m.failed()) j["failure"] = m.failure;
  if (m.lossless()) j["lossless"] = true;  // +inf dB that is no failure: the output is exact
  return j;
}

QuantMetrics metrics_from_json(const nlohmann::json& j) {
  QuantMetrics m;
  m.samples = j.at("samples").get<std::int64_t>();
  m.sqnr_db = number_from_json(j.at("sqnr_db"));
  m.agreement = number_from_json(j.at("top1_agreement"));
  m.kl = number_from_json(j.at("kl_divergence"));
  m.mse = number_from_json(j.at("mse"));
  m.failure = j.value("failure", std::string());
  if (j.contains("top1_accuracy")) {
    m.accuracy = j.at("top1_accuracy").get<double>();
    m.float_accuracy = j.at("float_top1_accuracy").get<double>();
  }
  return m;
}

}  // namespace mpq
