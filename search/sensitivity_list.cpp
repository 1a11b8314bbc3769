#include "sensitivity_list.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/json_number.hpp"
#include "search/number_text.hpp"
#include "sim/quant_metrics_json.hpp"

namespace mpq {

Result<SensitivityMetric> parse_sensitivity_metric(const std::string& t) {
  if (t == "sqnr") return SensitivityMetric::Sqnr;
  if (t == "accuracy") return SensitivityMetric::Accuracy;
  if (t == "agreement") return SensitivityMetric::Agreement;
  if (t == "kl") return SensitivityMetric::Kl;
  if (t == "mse") return SensitivityMetric::Mse;
  if (t == "eagl") return SensitivityMetric::Eagl;
  if (t == "fisher") return SensitivityMetric::Fisher;
  if (t == "alps") return SensitivityMetric::Alps;
  return make_error("unknown sensitivity metric '" + t +
                    "' (expected sqnr, accuracy, agreement, kl, mse, eagl, fisher or alps)");
}

const char* metric_name(SensitivityMetric m) {
  switch (m) {
    case SensitivityMetric::Sqnr:
      return "sqnr";
    case SensitivityMetric::Accuracy:
      return "accuracy";
    case SensitivityMetric::Agreement:
      return "agreement";
    case SensitivityMetric::Kl:
      return "kl";
    case SensitivityMetric::Mse:
      return "mse";
    case SensitivityMetric::Eagl:
      return "eagl";
    case SensitivityMetric::Fisher:
      return "fisher";
    case SensitivityMetric::Alps:
      return "alps";
  }
  return "?";
}

bool needs_labels(SensitivityMetric m) {
  return m == SensitivityMetric::Accuracy || m == SensitivityMetric::Alps;
}

double robustness(const TaskResult& r, SensitivityMetric m) {
  // A task whose run broke (non-finite output) is the most sensitive of all, whatever the metric.
  if (r.metrics.failed()) return -std::numeric_limits<double>::infinity();
  switch (m) {
    case SensitivityMetric::Sqnr:
      return r.metrics.sqnr_db;
    case SensitivityMetric::Accuracy:
    case SensitivityMetric::Alps:
      return r.metrics.accuracy.value_or(0.0);
    case SensitivityMetric::Agreement:
      return r.metrics.agreement;
    case SensitivityMetric::Kl:
      return -r.metrics.kl;
    case SensitivityMetric::Mse:
      return -r.metrics.mse;
    // A group without integer weights has no EAGL score: it sorts as the most robust, since
    // EAGL sees nothing of it to lose.
    case SensitivityMetric::Eagl:
      return std::isnan(r.eagl) ? std::numeric_limits<double>::infinity() : r.eagl;
    // Lower first-order loss change is more robust; a task without a score sorts as the most
    // sensitive.
    case SensitivityMetric::Fisher:
      return std::isnan(r.fisher) ? -std::numeric_limits<double>::infinity() : -r.fisher;
  }
  return 0;
}

double bops_reduction(const Network& net, const QuantizerPlacement& p, const SweepGroup& g,
                      const Candidate& c) {
  // The MAC ops whose first input carries the group's activation format.
  std::int64_t macs = 0;
  for (std::size_t k : net.order) {
    const Quantizer* q = p.input_quantizer(net, k, 0);
    if (!q || net.stats[k].macs == 0) continue;
    const auto qi = static_cast<std::size_t>(q - p.quantizers.data());
    if (std::find(g.quantizers.begin(), g.quantizers.end(), qi) != g.quantizers.end())
      macs += net.stats[k].macs;
  }
  const double before = g.baseline.bops_per_mac();
  const double after = c.bops_per_mac();
  return static_cast<double>(macs) * (before - after);
}

void sort_sensitivity(SensitivityList& list) {
  for (auto& e : list.entries) e.score = robustness(e.result, list.metric);
  std::sort(list.entries.begin(), list.entries.end(), [](const auto& a, const auto& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.bops_reduction != b.bops_reduction) return a.bops_reduction > b.bops_reduction;
    if (a.result.group != b.result.group) return a.result.group < b.result.group;
    return a.result.candidate.name() < b.result.candidate.name();
  });
}

namespace {

// A CSV field that may hold commas or quotes; empty stays empty.
std::string csv_quoted(const std::string& text) {
  if (text.empty()) return text;
  std::string q = "\"";
  for (const char c : text) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

std::string sensitivity_csv(const SensitivityList& list, const std::vector<SweepGroup>& groups) {
  std::string s =
      "rank,group,candidate,baseline,score_" + std::string(metric_name(list.metric)) +
      ",sqnr_db,top1_accuracy,top1_agreement,kl_divergence,mse,eagl,fisher,bops_reduction";
  for (const auto& a : list.accelerators)
    s += "," + a + "_latency_reduction_s," + a + "_energy_reduction_j";
  s += ",failure\n";
  int rank = 0;
  for (const auto& e : list.entries) {
    const auto& m = e.result.metrics;
    const SweepGroup& g = groups[e.result.group];
    s += std::to_string(++rank) + "," + g.name + "," + e.result.candidate.name() + "," +
         g.baseline.name() + "," + number_text(e.score, "%.17g") + "," +
         number_text(m.sqnr_db, "%.17g") + "," +
         (m.accuracy ? number_text(*m.accuracy, "%.17g") : "") + "," +
         number_text(m.agreement, "%.17g") + "," + number_text(m.kl, "%.17g") + "," +
         number_text(m.mse, "%.17g") + "," + number_text(e.result.eagl, "%.17g") + "," +
         number_text(e.result.fisher, "%.17g") + "," + number_text(e.bops_reduction, "%.17g");
    for (std::size_t a = 0; a < list.accelerators.size(); ++a)
      s += "," + number_text(e.latency_reduction_s.at(a), "%.17g") + "," +
           number_text(e.energy_reduction_j.at(a), "%.17g");
    s += "," + csv_quoted(m.failure) + "\n";
  }
  return s;
}

nlohmann::json sensitivity_json(const SensitivityList& list,
                                const std::vector<SweepGroup>& groups) {
  nlohmann::json entries = nlohmann::json::array();
  int rank = 0;
  for (const auto& e : list.entries) {
    const SweepGroup& g = groups[e.result.group];
    nlohmann::json j = {{"rank", ++rank},
                        {"group", g.name},
                        {"candidate", e.result.candidate.name()},
                        {"baseline", g.baseline.name()},
                        {"score", number_to_json(e.score)},
                        {"metrics", metrics_to_json(e.result.metrics)},
                        {"eagl", number_to_json(e.result.eagl)},
                        {"fisher", number_to_json(e.result.fisher)},
                        {"bops_reduction", e.bops_reduction}};
    nlohmann::json hw = nlohmann::json::object();
    for (std::size_t a = 0; a < list.accelerators.size(); ++a)
      hw[list.accelerators[a]] = {{"latency_reduction_s", e.latency_reduction_s.at(a)},
                                  {"energy_reduction_j", e.energy_reduction_j.at(a)}};
    if (!list.accelerators.empty()) j["accelerators"] = hw;
    entries.push_back(j);
  }
  return {{"metric", metric_name(list.metric)}, {"entries", entries}};
}

}  // namespace mpq
