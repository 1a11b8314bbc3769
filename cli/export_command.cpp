// `mpq export`: a configuration as an ONNX QDQ model (and an encodings JSON) that other
// runtimes and deployment toolchains take.
#include <cstdio>

#include "commands.hpp"
#include "common.hpp"
#include "hardware_args.hpp"
#include "sim/qdq/qdq_export.hpp"

namespace mpq::cli {
namespace {

struct ExportArgs {
  ModelArgs model;
  CommonArgs common;
  std::string config, output, encodings;
  int opset = kDefaultExportOpset;
};

int run_export(const ExportArgs& a) {
  auto threads = apply_threads(a.common);
  auto cfg_json = read_config_json(a.config);
  if (!cfg_json) return fail(cfg_json.error());
  // The shapes the configuration was calibrated with, unless --input-shape says otherwise.
  ModelArgs model = a.model;
  if (model.input_shapes.empty() && cfg_json->is_object() && cfg_json->contains("input_shapes")) {
    try {
      model.input_shapes = cfg_json->at("input_shapes").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception&) {
      return fail(
          make_error(a.config + ": \"input_shapes\" must be a list of NAME:D1xD2... strings"));
    }
  }
  auto net = load_network(model);
  if (!net) return fail(net.error());
  auto placement = placement_for(*net, model);
  if (!placement) return fail(placement.error());
  auto cfg = config_from_json(*cfg_json, *net, *placement, a.config);
  if (!cfg) return fail(cfg.error());
  QdqExportOptions opts;
  opts.opset = a.opset;
  opts.config_source = a.config;
  auto e = export_qdq(*net, *cfg, opts);
  if (!e) return fail(e.error());
  if (auto st = write_qdq_export(*e, a.output, a.encodings); !st) return fail(st.error());
  if (a.common.json) {
    print_json({{"model", a.model.model},
                {"config", a.config},
                {"output", a.output},
                {"encodings", a.encodings},
                {"opset", e->opset},
                {"ir_version", e->ir_version},
                {"quantize_linear", e->counts.quantize},
                {"dequantize_linear", e->counts.dequantize},
                {"clip", e->counts.clip},
                {"cast", e->counts.cast},
                {"bytes", e->model.size()}});
  } else {
    std::printf(
        "wrote %s: opset %d (IR %d), %d QuantizeLinear, %d DequantizeLinear, %d Clip, "
        "%d Cast; passes onnx::checker\n",
        a.output.c_str(), e->opset, e->ir_version, e->counts.quantize, e->counts.dequantize,
        e->counts.clip, e->counts.cast);
    if (!a.encodings.empty()) std::printf("wrote %s\n", a.encodings.c_str());
  }
  return 0;
}

}  // namespace

void add_export_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export",
      "Write a configuration as an ONNX QDQ model (QuantizeLinear/DequantizeLinear "
      "per quantizer, BatchNorm folded) and optionally an encodings JSON");
  add_model_args(*cmd, args->model);
  add_fusion_hw_option(*cmd, args->model.fusion_hw);
  add_common_args(*cmd, args->common);
  cmd->add_option("--config", args->config, "Configuration (written by `mpq quantize -o`)")
      ->required();
  cmd->add_option("-o,--output", args->output, "The QDQ model to write (.onnx)")->required();
  cmd->add_option("--encodings", args->encodings,
                  "Also write the encodings (AIMET-style JSON: scale, offset, bit-width, "
                  "carrier per tensor)");
  cmd->add_option("--opset", args->opset,
                  "Target opset, 13-21 (default 21: int4 and int16 Q/DQ; below 21 4-bit goes "
                  "on an 8-bit carrier and 16-bit cannot be written; fp8 needs 19)");
  cmd->callback([args, &exit_code] { exit_code = run_export(*args); });
}

}  // namespace mpq::cli
