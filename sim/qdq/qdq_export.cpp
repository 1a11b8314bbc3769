#include "qdq_export.hpp"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "core/atomic_file.hpp"
#include "fused_op_expansion.hpp"
#include "onnx_writer.hpp"
#include "opset_upgrade.hpp"
#include "qdq_builder.hpp"
#include "qdq_emitter.hpp"
#include "qdq_encodings.hpp"
#include "sim/quantized_engine.hpp"

namespace mpq {
namespace {

constexpr int kCheckerIrVersion = 8;  // the newest IR version libonnx 1.12's checker accepts
constexpr int kCheckerMaxOpset = 17;  // the newest opset it has schemas for

int ir_version_for(int opset) {
  return opset >= 21 ? 10 : opset >= 19 ? 9 : 8;
}

std::string carriers_metadata(const QuantConfig& cfg, const std::map<std::string, QdqFormat>& fs) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, f] : fs) {
    if (f.kind != QdqKind::Quantize || !cfg.quantizers.at(name).params.format.is_int()) continue;
    const QuantParams& p = cfg.quantizers.at(name).params;
    if (f.carrier_bits == f.bits && !f.narrow) continue;
    j[name] = {{"format", p.format.name()},
               {"carrier", onnx_type_name(f.type)},
               {"qmin", p.qmin},
               {"qmax", p.qmax}};
  }
  return j.dump();
}

using Formats = std::map<std::string, QdqFormat>;

// The prepared network at `opset` with the quantizers of `cfg` as Q/DQ nodes.
Result<onnx::ModelProto> build_model(const Network& net, const QuantConfig& cfg,
                                     const Formats& formats, const QdqExportOptions& opts,
                                     int opset, QdqNodeCounts& counts) {
  Model m = net.model;
  m.nodes.clear();
  for (std::size_t k : net.order) m.nodes.push_back(net.model.nodes[k]);
  if (auto st = upgrade_opset(m, opset, {&net.shapes, &net.dtypes}); !st) return st.error();
  onnx::ModelProto mp;
  mp.set_ir_version(ir_version_for(opset));
  mp.set_producer_name("mpq");
  mp.set_producer_version("0.1");
  auto* op = mp.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  std::set<std::string> domains;
  for (const auto& n : m.nodes)  // mpq's own fused ops are written as standard ops
    if (auto sep = n.op_type.find("::"); sep != std::string::npos && n.op_type.rfind("mpq::", 0))
      domains.insert(n.op_type.substr(0, sep));
  for (const auto& d : domains) {
    auto* o = mp.add_opset_import();
    o->set_domain(d);
    o->set_version(1);
  }
  auto add_meta = [&](const std::string& k, const std::string& v) {
    auto* p = mp.add_metadata_props();
    p->set_key(k);
    p->set_value(v);
  };
  for (const auto& [k, v] : m.metadata) add_meta(k, v);
  add_meta("mpq.qdq.opset", std::to_string(opset));
  if (!opts.config_source.empty()) add_meta("mpq.qdq.config", opts.config_source);
  add_meta("mpq.qdq.carriers", carriers_metadata(cfg, formats));

  auto& g = *mp.mutable_graph();
  g.set_name("mpq_qdq");
  QdqBuilder b(g);
  for (const auto& vi : m.inputs) b.reserve(vi.name);
  for (const auto& [name, t] : m.initializers) b.reserve(name);
  for (const auto& n : m.nodes) {
    for (const auto& o : n.outputs) b.reserve(o);
    b.reserve(n.name);
  }
  for (const auto& vi : m.inputs) value_info_to_proto(vi, *g.add_input());
  for (const auto& vi : m.outputs) value_info_to_proto(vi, *g.add_output());

  QdqEmitter emit(b);
  std::set<std::string> replaced;  // initializers written in quantized form
  for (const auto& [name, s] : cfg.quantizers) {
    auto f = formats.find(name);
    if (s.kind != QuantizerKind::Weight || f == formats.end()) continue;
    emit.weight(name, m.initializers.at(name), s.params, f->second, s.integer_weights);
    replaced.insert(name);
  }
  for (const auto& [name, bs] : cfg.biases) {
    const Tensor bias = float_bias(net, cfg, name);
    if (static_cast<std::int64_t>(bs.scale.size()) != bias.size()) continue;  // stays float
    emit.bias(name, bias, bs);
    replaced.insert(name);
  }
  for (const auto& [name, values] : cfg.corrected_biases)  // corrected, still float
    if (replaced.insert(name).second)
      tensor_to_proto(float_bias(net, cfg, name), name, *g.add_initializer());
  for (const auto& [name, t] : m.initializers)
    if (!replaced.count(name)) tensor_to_proto(t, name, *g.add_initializer());

  std::map<std::string, std::string> input_rename;  // model input -> its DQ output
  for (const auto& vi : m.inputs) {
    auto f = formats.find(vi.name);
    if (f == formats.end()) continue;
    const std::string dq = b.fresh(vi.name + "_dq");
    emit.activation(vi.name, dq, cfg.quantizers.at(vi.name).params, f->second);
    input_rename[vi.name] = dq;
  }
  for (OpNode n : m.nodes) {
    const std::string x = n.inputs.empty() ? "" : n.inputs[0];  // before the input's DQ rename
    for (auto& in : n.inputs)
      if (auto it = input_rename.find(in); it != input_rename.end()) in = it->second;
    std::vector<std::pair<std::string, std::string>> pending;  // (float name, quantized name)
    for (auto& out : n.outputs) {
      auto f = formats.find(out);
      if (out.empty() || f == formats.end()) continue;
      if (cfg.quantizers.at(out).kind != QuantizerKind::Activation) continue;
      pending.emplace_back(b.fresh(out + "_float"), out);
      out = pending.back().first;
    }
    std::map<std::string, Tensor> constants;
    const auto shape = net.shapes.find(x);
    const auto rank =
        static_cast<std::int64_t>(shape == net.shapes.end() ? 0 : shape->second.size());
    for (const auto& s : standard_ops(
             n, opset, rank, [&](const std::string& t) { return b.fresh(t); }, constants))
      node_to_proto(s, *g.add_node());
    for (const auto& [name, t] : constants) tensor_to_proto(t, name, *g.add_initializer());
    for (const auto& [src, dst] : pending)
      emit.activation(src, dst, cfg.quantizers.at(dst).params, formats.at(dst));
  }
  counts = emit.counts;
  return mp;
}

// libonnx 1.12 knows IR versions up to 8 and opsets up to 17, and rejects anything newer
// outright (IR) or checks it against the opset-17 schemas (ops changed since, such as
// ReduceMean with its axes input in 18). So it checks the same graph built at opset 17 at most
// (IR 8): structure, names, topological order, node schemas and attributes, initializers.
// The Q/DQ nodes are the same at 17 and 21; the 4- and 16-bit element types are checked by
// onnxruntime when it loads the written model (tests/e2e/test_qdq_onnxruntime.py).
Status check(const Network& net, const QuantConfig& cfg, const Formats& formats,
             const QdqExportOptions& opts) {
  // (A model newer than opset 17 is checked at its own opset, as far as libonnx 1.12 can.)
  const int opset =
      std::max(std::min(opts.opset, kCheckerMaxOpset), static_cast<int>(net.model.opset));
  QdqNodeCounts unused;
  auto mp = build_model(net, cfg, formats, opts, opset, unused);
  if (!mp) return mp.error();
  mp->set_ir_version(std::min<std::int64_t>(mp->ir_version(), kCheckerIrVersion));
  try {
    onnx::checker::check_model(*mp);
  } catch (const std::exception& e) {
    return make_error(std::string("the exported model fails the ONNX checker: ") + e.what());
  }
  return Ok{};
}

}  // namespace

Result<QdqExport> export_qdq(const Network& net, const QuantConfig& cfg,
                             const QdqExportOptions& opts) {
  if (opts.opset < static_cast<int>(kMinExportOpset) || opts.opset > kMaxExportOpset)
    return make_error("--opset " + std::to_string(opts.opset) +
                      " is not supported: the export writes opsets " +
                      std::to_string(kMinExportOpset) + " to " + std::to_string(kMaxExportOpset));
  // Every format first: nothing is built when one cannot be represented.
  Formats formats;
  for (const auto& [name, s] : cfg.quantizers) {
    auto f = qdq_format(s.params, opts.opset, name);
    if (!f) return f.error();
    if (f->kind != QdqKind::None) formats[name] = *f;
  }
  QdqExport out;
  auto mp = build_model(net, cfg, formats, opts, opts.opset, out.counts);
  if (!mp) return mp.error();
  if (auto st = check(net, cfg, formats, opts); !st) return st.error();
  out.opset = opts.opset;
  out.ir_version = static_cast<int>(mp->ir_version());
  if (!mp->SerializeToString(&out.model)) return make_error("cannot serialize the exported model");
  out.encodings = make_encodings(cfg, formats, opts);
  return out;
}

Status write_qdq_export(const QdqExport& e, const std::string& model_path,
                        const std::string& encodings_path) {
  if (!encodings_path.empty())
    if (auto st = write_file_atomically(encodings_path, e.encodings.dump(1) + "\n"); !st) return st;
  if (auto st = write_file_atomically(model_path, e.model); !st) {
    if (!encodings_path.empty()) {
      std::error_code ignored;
      std::filesystem::remove(encodings_path, ignored);
    }
    return st;
  }
  return Ok{};
}

}  // namespace mpq
