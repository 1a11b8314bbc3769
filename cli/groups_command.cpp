// `mpq groups`: the quantizer groups of a model on an accelerator: quantizers, ops, supported
// candidates, MACs and parameters per group; --dot writes the network with groups coloured.
#include <cstdio>
#include <fstream>

#include "commands.hpp"
#include "common.hpp"
#include "graph/op_class.hpp"
#include "hardware_args.hpp"
#include "search/priced_network.hpp"

namespace mpq::cli {
namespace {

struct GroupsArgs {
  ModelArgs model;
  CommonArgs common;
  std::string hw;
  std::string dot;
};

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

nlohmann::json groups_json(const Network& net, const QuantizerPlacement& placement,
                           const hw::Accelerator& acc, const PricedNetwork& p) {
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t g = 0; g < p.groups.groups.size(); ++g) {
    const QuantizerGroup& grp = p.groups.groups[g];
    nlohmann::json quantizers = nlohmann::json::array(), ops = nlohmann::json::array(),
                   candidates = nlohmann::json::array();
    for (std::size_t q : grp.quantizers) {
      const Quantizer& qz = placement.quantizers[q];
      quantizers.push_back({{"name", qz.name},
                            {"kind", qz.kind == QuantizerKind::Weight ? "weight" : "activation"}});
    }
    for (std::size_t k : grp.ops)
      ops.push_back({{"op", net.node(k).label()}, {"class", op_class_name(classify_op(net, k))}});
    for (int c : p.supported[g])
      candidates.push_back(acc.candidates[static_cast<std::size_t>(c)].name());
    rows.push_back({{"index", g},
                    {"name", grp.name},
                    {"quantizers", quantizers},
                    {"ops", ops},
                    {"mac_ops", grp.mac_ops.size()},
                    {"macs", grp.macs},
                    {"params", grp.params},
                    {"candidates", candidates},
                    {"baseline", acc.candidates[static_cast<std::size_t>(p.baseline[g])].name()},
                    {"model_input", grp.model_input},
                    {"model_output", grp.model_output}});
  }
  return rows;
}

void print_groups(const GroupsArgs& a, const hw::Accelerator& acc, const nlohmann::json& rows) {
  std::printf(
      "%s on %s: %zu quantizer groups (grouping rules: unify inputs of %s)\n",
      a.model.model.c_str(), acc.name.c_str(), rows.size(),
      acc.grouping.unify_inputs.empty() ? "none" : join(acc.grouping.unify_inputs, ", ").c_str());
  for (const auto& r : rows) {
    std::string tags;
    if (r["model_input"].get<bool>()) tags += " [model input]";
    if (r["model_output"].get<bool>()) tags += " [model output]";
    std::vector<std::string> cands = r["candidates"];
    std::printf("group %zu '%s'%s: %s MACs, %s params; candidates %s (baseline %s)\n",
                r["index"].get<std::size_t>(), r["name"].get<std::string>().c_str(), tags.c_str(),
                thousands(r["macs"].get<double>()).c_str(),
                thousands(r["params"].get<double>()).c_str(), join(cands, " ").c_str(),
                r["baseline"].get<std::string>().c_str());
    std::vector<std::string> qs, ops;
    for (const auto& q : r["quantizers"])
      qs.push_back(q["name"].get<std::string>() + (q["kind"] == "weight" ? " (w)" : " (a)"));
    for (const auto& o : r["ops"]) ops.push_back(o["op"].get<std::string>());
    std::printf("  quantizers: %s\n", join(qs, ", ").c_str());
    std::printf("  ops: %s\n", ops.empty() ? "(none: a model output)" : join(ops, ", ").c_str());
  }
}

// Graphviz: one box per op, filled with the colour of the group its first quantized input
// belongs to (the group whose candidate its MACs run at); model inputs as ellipses.
Status write_dot(const std::string& path, const Network& net, const QuantizerPlacement& placement,
                 const PricedNetwork& p) {
  static const char* kColours[] = {"lightblue",  "palegreen",      "lightsalmon", "khaki",
                                   "plum",       "lightcyan",      "pink",        "wheat",
                                   "aquamarine", "lightgoldenrod", "thistle",     "peachpuff"};
  std::ofstream f(path);
  if (!f) return make_error(path + ": cannot write the Graphviz file");
  auto colour = [&](std::size_t g) { return kColours[g % (sizeof(kColours) / sizeof(*kColours))]; };
  auto group_of_input = [&](std::size_t node) -> long {
    const OpNode& n = net.node(node);
    for (std::size_t j = 0; j < n.inputs.size(); ++j)
      if (const Quantizer* q = placement.input_quantizer(net, node, j))
        return static_cast<long>(
            p.groups.group_of[static_cast<std::size_t>(q - placement.quantizers.data())]);
    return -1;
  };
  f << "digraph network {\n  rankdir=TB;\n  node [shape=box, style=filled, fontname=Helvetica];\n";
  for (const auto& in : net.model.inputs) {
    auto q = placement.by_name.find(in.name);
    const long g =
        q == placement.by_name.end() ? -1 : static_cast<long>(p.groups.group_of[q->second]);
    f << "  \"in:" << in.name << "\" [shape=ellipse, label=\"" << in.name
      << (g >= 0 ? "\\ng" + std::to_string(g) : "")
      << "\", fillcolor=" << (g >= 0 ? colour(static_cast<std::size_t>(g)) : "white") << "];\n";
  }
  std::map<std::string, std::string> producer;
  for (const auto& in : net.model.inputs) producer[in.name] = "in:" + in.name;
  for (std::size_t k : net.order) {
    const OpNode& n = net.node(k);
    const std::string id = "op" + std::to_string(k);
    const long g = group_of_input(k);
    f << "  " << id << " [label=\"" << n.op_type << "\\n"
      << (n.name.empty() ? n.outputs[0] : n.name) << (g >= 0 ? "\\ng" + std::to_string(g) : "")
      << "\", fillcolor=" << (g >= 0 ? colour(static_cast<std::size_t>(g)) : "white") << "];\n";
    for (const auto& out : n.outputs) producer[out] = id;
    for (const auto& in : n.inputs)
      if (auto it = producer.find(in); it != producer.end())
        f << "  \"" << it->second << "\" -> " << id << ";\n";
  }
  f << "}\n";
  if (!f) return make_error(path + ": writing the Graphviz file failed");
  return Ok{};
}

int run_groups(const GroupsArgs& a) {
  auto threads = apply_threads(a.common);
  auto acc = load_hardware(a.hw);
  if (!acc) return fail(acc.error());
  auto net = load_network(a.model);
  if (!net) return fail(net.error());
  const QuantizerPlacement placement = place_quantizers(*net, placement_rules_of(*acc));
  auto priced = price_network(*net, placement, *acc);
  if (!priced) return fail(priced.error());
  const nlohmann::json rows = groups_json(*net, placement, *acc, *priced);
  if (!a.dot.empty())
    if (auto st = write_dot(a.dot, *net, placement, *priced); !st) return fail(st.error());
  if (a.common.json) {
    print_json({{"model", a.model.model},
                {"accelerator", acc->name},
                {"unify_inputs", acc->grouping.unify_inputs},
                {"groups", rows}});
    return 0;
  }
  print_groups(a, *acc, rows);
  return 0;
}

}  // namespace

void add_groups_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<GroupsArgs>();
  auto* cmd = app.add_subcommand(
      "groups",
      "Print the quantizer groups of a model on an accelerator: quantizers, ops, supported "
      "candidates, MACs and parameters of each group");
  add_model_args(*cmd, args->model);
  add_common_args(*cmd, args->common);
  add_hw_option(*cmd, args->hw);
  cmd->add_option("--dot", args->dot, "Also write the network as Graphviz, ops coloured by group");
  cmd->callback([args, &exit_code] { exit_code = run_groups(*args); });
}

}  // namespace mpq::cli
