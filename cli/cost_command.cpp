// `mpq cost`: per-layer and total MACs, BOPs, weight and activation memory, latency and energy of
// a model (ONNX) or a SCALE-Sim topology (CSV) on an accelerator, at one candidate everywhere
// (--candidate), at a per-group configuration (--config), or at the baseline.
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "commands.hpp"
#include "common.hpp"
#include "hardware_args.hpp"
#include "hw/scalesim_topology.hpp"
#include "search/priced_network.hpp"

namespace mpq::cli {
namespace {

struct CostArgs {
  ModelArgs model;
  CommonArgs common;
  std::string hw;
  std::string candidate;
  std::string config;
};

// What is priced: a cost table, a configuration, and for printing each layer's formats.
struct Priced {
  CostTable table;
  GroupConfig config;
  std::vector<std::string> group_names;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<int> candidate_arg(const hw::Accelerator& acc, const std::string& name) {
  const auto parsed = parse_candidate(name);  // "fp16" too, as --candidates reads it
  const auto c = parsed ? acc.candidate_index(*parsed) : std::nullopt;
  if (!c) {
    std::string known;
    for (const auto& k : acc.candidates) known += " " + k.name();
    return make_error("--candidate " + name + ": not a candidate of " + acc.name + " (it has" +
                      known + ")");
  }
  return *c;
}

bool supports(const std::vector<int>& s, int c) {
  return std::find(s.begin(), s.end(), c) != s.end();
}

// --config FILE: {"groups": {"<group name>": "<candidate>", ...}}; groups not named keep the
// baseline.
Status apply_config_file(const std::string& path, const hw::Accelerator& acc,
                         const PricedNetwork& p, GroupConfig& config) {
  std::ifstream f(path);
  if (!f) return make_error(path + ": cannot open the configuration");
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("groups") || !j["groups"].is_object())
    return make_error(path +
                      ": expected a JSON object {\"groups\": {\"<group>\": \"<candidate>\"}}");
  for (const auto& [name, value] : j["groups"].items()) {
    std::size_t g = 0;
    while (g < p.groups.groups.size() && p.groups.groups[g].name != name) ++g;
    if (g == p.groups.groups.size())
      return make_error(path + ": groups." + name +
                        ": no such quantizer group (mpq groups lists them)");
    if (!value.is_string())
      return make_error(path + ": groups." + name + ": expected a candidate name");
    auto c = acc.candidate_index(value.get<std::string>());
    if (!c)
      return make_error(path + ": groups." + name + ": " + value.get<std::string>() +
                        " is not a candidate of " + acc.name);
    if (!supports(p.supported[g], *c))
      return make_error(path + ": groups." + name + ": " + acc.name + " cannot run this group at " +
                        value.get<std::string>());
    config[g] = *c;
  }
  return Ok{};
}

Result<Priced> price_model(const CostArgs& a, const hw::Accelerator& acc) {
  auto net = load_network(a.model);
  if (!net) return net.error();
  auto p = price_network(*net, place_quantizers(*net, placement_rules_of(acc)), acc);
  if (!p) return p.error();
  Priced out{p->table, p->baseline, {}};
  for (const auto& g : p->groups.groups) out.group_names.push_back(g.name);
  if (!a.candidate.empty()) {
    auto c = candidate_arg(acc, a.candidate);
    if (!c) return c.error();
    for (std::size_t g = 0; g < out.config.size(); ++g) {
      if (!supports(p->supported[g], *c))
        return make_error("--candidate " + a.candidate + ": " + acc.name +
                          " cannot run quantizer group '" + p->groups.groups[g].name +
                          "' at it (see mpq groups)");
      out.config[g] = *c;
    }
  }
  if (!a.config.empty())
    if (auto st = apply_config_file(a.config, acc, *p, out.config); !st) return st.error();
  return out;
}

// A topology has no graph: every layer is its own group, all at one candidate.
Result<Priced> price_topology(const CostArgs& a, const hw::Accelerator& acc) {
  if (!a.config.empty())
    return make_error("--config needs an ONNX model (a topology file has no quantizer groups)");
  auto layers = hw::load_scalesim_topology(a.model.model);
  if (!layers) return make_error(layers.error().message);
  int cand = -1;
  if (!a.candidate.empty()) {
    auto c = candidate_arg(acc, a.candidate);
    if (!c) return c.error();
    cand = *c;
  }
  std::vector<int> common;
  for (std::size_t c = 0; c < acc.candidates.size(); ++c) {
    bool all = true;
    for (const auto& l : *layers) all = all && acc.accepted_candidates(l.op_class, "", true)[c];
    if (all) common.push_back(static_cast<int>(c));
  }
  if (cand < 0 && common.empty())
    return make_error(acc.name + ": no candidate supported by every layer of " + a.model.model);
  if (cand < 0) cand = highest_candidate(acc, common);
  std::vector<TableLayer> rows;
  Priced out;
  for (std::size_t l = 0; l < layers->size(); ++l) {
    rows.push_back({(*layers)[l], LayerGroups{static_cast<int>(l), -1, -1}});
    out.group_names.push_back((*layers)[l].name);
  }
  out.table = CostTable::build(acc, std::move(rows), layers->size());
  out.config.assign(layers->size(), cand);
  return out;
}

nlohmann::json metrics_json(const CostMetrics& m) {
  return {{"macs", m.macs},
          {"bops", m.bops},
          {"weight_bits", m.weight_bits},
          {"activation_bits", m.activation_bits},
          {"latency_s", m.latency_s},
          {"energy_j", m.energy_j}};
}

void print_row(const char* idx, const std::string& name, const std::string& cls,
               const std::string& cand, const std::string& out, const CostMetrics& m) {
  std::printf("%-4s %-28s %-14s %-11s %-7s %14s %10.3f %10.1f %10.1f %11.3f %11.3f\n", idx,
              name.size() > 28 ? ("..." + name.substr(name.size() - 25)).c_str() : name.c_str(),
              cls.c_str(), cand.c_str(), out.c_str(), thousands(m.macs).c_str(), m.bops * 1e-9,
              m.weight_bits / 8 / 1024, m.activation_bits / 8 / 1024, m.latency_s * 1e6,
              m.energy_j * 1e6);
}

int run_cost(const CostArgs& a) {
  auto threads = apply_threads(a.common);
  if (!a.candidate.empty() && !a.config.empty())
    return fail(make_error("give --candidate or --config, not both"));
  auto acc = load_hardware(a.hw);
  if (!acc) return fail(acc.error());
  auto priced = ends_with(a.model.model, ".csv") ? price_topology(a, *acc) : price_model(a, *acc);
  if (!priced) return fail(priced.error());
  const CostTable& t = priced->table;
  const GroupConfig& cfg = priced->config;
  if (auto why = t.unsupported(cfg); !why.empty()) return fail(make_error(why));

  nlohmann::json layers = nlohmann::json::array();
  for (std::size_t l = 0; l < t.num_layers(); ++l) {
    const TableLayer& row = t.layer(l);
    const auto& cand =
        acc->candidates[static_cast<std::size_t>(cfg[static_cast<std::size_t>(row.groups.mac)])];
    const int out_group = row.groups.output >= 0 ? row.groups.output : row.groups.mac;
    const auto& out =
        acc->candidates[static_cast<std::size_t>(cfg[static_cast<std::size_t>(out_group)])];
    nlohmann::json j = metrics_json(t.layer_cost(cfg, l));
    j["name"] = row.workload.name;
    j["op_class"] = row.workload.op_class;
    j["candidate"] = cand.name();
    j["output_format"] = out.activation.name();
    layers.push_back(j);
  }
  const CostMetrics total = t.total(cfg);
  nlohmann::json config = nlohmann::json::object();
  for (std::size_t g = 0; g < cfg.size(); ++g)
    config[priced->group_names[g]] = acc->candidates[static_cast<std::size_t>(cfg[g])].name();
  if (a.common.json) {
    print_json({{"model", a.model.model},
                {"accelerator", acc->name},
                {"latency_model", hw::latency_model_name(acc->latency_model)},
                {"config", config},
                {"layers", layers},
                {"total", metrics_json(total)}});
    return 0;
  }
  std::printf("%s on %s (latency model %s), %zu layers\n", a.model.model.c_str(), acc->name.c_str(),
              hw::latency_model_name(acc->latency_model), t.num_layers());
  std::printf("%-4s %-28s %-14s %-11s %-7s %14s %10s %10s %10s %11s %11s\n", "#", "layer", "class",
              "candidate", "output", "MACs", "GBOPs", "wt KiB", "act KiB", "latency us",
              "energy uJ");
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto& j = layers[l];
    CostMetrics m{j["macs"],      j["bops"],    j["weight_bits"], j["activation_bits"],
                  j["latency_s"], j["energy_j"]};
    print_row(std::to_string(l).c_str(), j["name"], j["op_class"], j["candidate"],
              j["output_format"], m);
  }
  print_row("", "total", "", "", "", total);
  return 0;
}

}  // namespace

void add_cost_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CostArgs>();
  auto* cmd = app.add_subcommand(
      "cost",
      "Per-layer and total MACs, BOPs, weight and activation memory, latency and energy of a "
      "model (ONNX) or a SCALE-Sim topology (.csv) on an accelerator; the baseline configuration "
      "unless --candidate or --config says otherwise");
  add_model_args(*cmd, args->model);
  add_common_args(*cmd, args->common);
  add_hw_option(*cmd, args->hw);
  cmd->add_option("--candidate", args->candidate,
                  "Run every quantizer group at this candidate, e.g. W8A8");
  cmd->add_option("--config", args->config,
                  "JSON file {\"groups\": {\"<group name>\": \"<candidate>\"}}; groups not named "
                  "keep the baseline (ONNX models only)");
  cmd->callback([args, &exit_code] { exit_code = run_cost(*args); });
}

}  // namespace mpq::cli
