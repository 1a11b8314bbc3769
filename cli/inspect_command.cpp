// `mpq inspect`: the per-layer table (op, output shape, params, MACs) and totals.
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "common.hpp"

namespace mpq::cli {
namespace {

struct InspectArgs {
  ModelArgs model;
  CommonArgs common;
};

std::string with_commas(std::int64_t v) {
  std::string s = std::to_string(v);
  for (int k = static_cast<int>(s.size()) - 3; k > 0; k -= 3)
    s.insert(static_cast<std::size_t>(k), ",");
  return s;
}

int run_inspect(const InspectArgs& a) {
  auto threads = apply_threads(a.common);
  auto net = load_network(a.model);
  if (!net) return fail(net.error());
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
                {"note", "shapes at batch 1; MACs per sample; -1 marks a dynamic dimension"}});
    return 0;
  }
  std::printf("%s  (opset %lld, %zu ops after BatchNorm and constant folding)\n",
              a.model.model.c_str(), static_cast<long long>(net->model.opset), net->order.size());
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
  add_common_args(*cmd, args->common);
  cmd->callback([args, &exit_code] { exit_code = run_inspect(*args); });
}

}  // namespace mpq::cli
