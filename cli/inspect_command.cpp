// `mpq inspect`: the per-layer table (op, output shape, params, MACs) and totals.
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "common.hpp"
#include "graph/quantizer_placement.hpp"
#include "hardware_args.hpp"

namespace mpq::cli {
namespace {

struct InspectArgs {
  ModelArgs model;
  CommonArgs common;
  bool quantizers = false;
};

nlohmann::json quantizer_table(const Network& net, const QuantizerPlacement& p) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& q : p.quantizers) {
    const bool weight = q.kind == QuantizerKind::Weight;
    const std::string at = q.node == Quantizer::kNoNode ? "model input" : net.node(q.node).label();
    nlohmann::json r = {{"name", q.name}, {"kind", weight ? "weight" : "activation"}, {"op", at}};
    if (weight) r["channel_axis"] = q.channel_axis;
    if (!weight) r["non_negative"] = q.non_negative;
    if (q.model_output) r["model_output"] = true;
    // Tensors that carry this quantizer's format through data-movement ops.
    nlohmann::json carried = nlohmann::json::array();
    for (const auto& [t, src] : p.format_source)
      if (&p.quantizers[src] == &q && t != q.name) carried.push_back(t);
    if (!weight) r["carried_by"] = carried;
    rows.push_back(r);
  }
  return rows;
}

nlohmann::json canonical_json(const CanonicalizationReport& r) {
  nlohmann::json rewrites = nlohmann::json::array(), unfused = nlohmann::json::array();
  for (const auto& w : r.rewrites)
    rewrites.push_back({{"pattern", w.pattern}, {"node", w.node}, {"replaced", w.replaced}});
  for (const auto& u : r.unfused)
    unfused.push_back({{"pattern", u.pattern}, {"at", u.at}, {"reason", u.reason}});
  return {{"ran", r.ran}, {"summary", r.summary()}, {"rewrites", rewrites}, {"unfused", unfused}};
}

// "canonicalized: ..." with the fused nodes per pattern, then what was left unfused and why.
void print_canonical(const CanonicalizationReport& r, bool names) {
  if (!r.ran) {
    std::printf("canonicalized: not run (--no-canonicalize)\n");
    return;
  }
  std::printf("canonicalized: %s\n", r.summary().c_str());
  if (names)
    for (const auto& [pattern, n] : r.counts()) {
      std::string list;
      for (const auto& w : r.rewrites)
        if (w.pattern == pattern) list += (list.empty() ? "" : ", ") + w.node;
      std::printf("  %s (%d): %s\n", pattern.c_str(), n, list.c_str());
    }
  for (const auto& u : r.unfused)
    std::printf("  left unfused (%s) at %s: %s\n", u.pattern.c_str(), u.at.c_str(),
                u.reason.c_str());
}

int print_quantizers(const InspectArgs& a, const Network& net,
                     const CanonicalizationReport& canonical) {
  auto placement = placement_for(net, a.model);
  if (!placement) return fail(placement.error());
  const nlohmann::json rows = quantizer_table(net, *placement);
  if (a.common.json) {
    print_json({{"model", a.model.model},
                {"fusion_rules", placement->rules},
                {"placement", placement_fingerprint(*placement)},
                {"quantizers", rows},
                {"canonicalized", canonical_json(canonical)}});
    return 0;
  }
  std::printf("fusion rules: %s\n", placement->rules.c_str());
  std::printf("%-4s %-36s %-10s %-40s %s\n", "#", "quantizer", "kind", "at", "notes");
  int idx = 0;
  for (const auto& r : rows) {
    std::string notes;
    if (r["kind"] == "weight")
      notes = "per-channel axis " + std::to_string(r["channel_axis"].get<int>());
    if (r.value("non_negative", false)) notes += "non-negative";
    if (r.value("model_output", false)) notes += notes.empty() ? "model output" : ", model output";
    if (r.contains("carried_by") && !r["carried_by"].empty())
      notes += (notes.empty() ? "" : ", ") + std::string("passes through ") +
               std::to_string(r["carried_by"].size()) + " tensor(s)";
    std::string name = r["name"];
    if (name.size() > 36) name = "..." + name.substr(name.size() - 33);
    std::string at = r["op"];
    if (at.size() > 40) at = at.substr(0, 37) + "...";
    std::printf("%-4d %-36s %-10s %-40s %s\n", idx++, name.c_str(),
                r["kind"].get<std::string>().c_str(), at.c_str(), notes.c_str());
  }
  std::printf("%zu quantizers\n", rows.size());
  print_canonical(canonical, false);
  return 0;
}

std::string with_commas(std::int64_t v) {
  std::string s = std::to_string(v);
  for (int k = static_cast<int>(s.size()) - 3; k > 0; k -= 3)
    s.insert(static_cast<std::size_t>(k), ",");
  return s;
}

int run_inspect(const InspectArgs& a) {
  auto threads = apply_threads(a.common);
  CanonicalizationReport canonical;
  auto net = load_network(a.model, &canonical);
  if (!net) return fail(net.error());
  if (a.quantizers) return print_quantizers(a, *net, canonical);
  nlohmann::json layers = nlohmann::json::array();
  std::int64_t total_macs = 0, total_params = 0;
  for (std::size_t k : net->order) {
    const OpNode& n = net->node(k);
    const auto& st = net->stats[k];
    const Shape& shape = net->shapes[n.outputs.at(0)];
    layers.push_back({{"name", n.name.empty() ? n.outputs[0] : n.name},
                      {"op", n.op_type},
                      {"output_shape", shape},
                      {"params", st.params},
                      {"macs", st.macs}});
    total_macs += st.macs;
    total_params += st.params;
  }
  if (a.common.json) {
    nlohmann::json inputs = nlohmann::json::array();
    for (const auto& in : net->model.inputs)
      inputs.push_back({{"name", in.name}, {"shape", in.dims}});
    print_json({{"model", a.model.model},
                {"opset", net->model.opset},
                {"producer", net->model.producer},
                {"inputs", inputs},
                {"layers", layers},
                {"total_params", total_params},
                {"total_macs", total_macs},
                {"canonicalized", canonical_json(canonical)},
                {"note", "shapes at batch 1; MACs per sample; -1 marks a dynamic dimension"}});
    return 0;
  }
  std::printf(
      "%s  (opset %lld, %zu ops after BatchNorm and constant folding and canonicalization)\n",
      a.model.model.c_str(), static_cast<long long>(net->model.opset), net->order.size());
  print_canonical(canonical, true);
  std::printf("%-4s %-36s %-20s %-18s %12s %14s\n", "#", "name", "op", "output (batch 1)", "params",
              "MACs");
  int idx = 0;
  for (const auto& l : layers) {
    std::string name = l["name"];
    if (name.size() > 36) name = "..." + name.substr(name.size() - 33);
    const Shape shape = l["output_shape"];
    std::printf("%-4d %-36s %-20s %-18s %12s %14s\n", idx++, name.c_str(),
                l["op"].get<std::string>().c_str(), shape_str(shape).c_str(),
                with_commas(l["params"]).c_str(), with_commas(l["macs"]).c_str());
  }
  std::printf("total: %s params, %s MACs per sample\n", with_commas(total_params).c_str(),
              with_commas(total_macs).c_str());
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand("inspect",
                                 "Print the per-layer table: op, output shape, "
                                 "parameters and MACs, with totals");
  add_model_args(*cmd, args->model);
  add_fusion_hw_option(*cmd, args->model.fusion_hw);
  add_common_args(*cmd, args->common);
  cmd->add_flag("--quantizers", args->quantizers,
                "List the quantizers instead: where each sits, its kind and the tensors "
                "that carry its format");
  cmd->callback([args, &exit_code] { exit_code = run_inspect(*args); });
}

}  // namespace mpq::cli
