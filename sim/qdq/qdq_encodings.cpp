#include "qdq_encodings.hpp"

namespace mpq {
namespace {

using nlohmann::json;

json int_encoding(const QuantizerSetting& s, const QdqFormat& f) {
  const QuantParams& p = s.params;
  std::vector<std::int32_t> offset;
  std::vector<float> lo, hi;
  for (std::size_t c = 0; c < p.scale.size(); ++c) {
    const float zp = static_cast<float>(p.zero_point[c]);
    offset.push_back(-p.zero_point[c]);
    lo.push_back((static_cast<float>(p.qmin) - zp) * p.scale[c]);
    hi.push_back((static_cast<float>(p.qmax) - zp) * p.scale[c]);
  }
  json e = {{"bitwidth", p.format.bits},
            {"dtype", "int"},
            {"enc_type", p.per_channel() ? "PER_CHANNEL" : "PER_TENSOR"},
            {"is_symmetric", s.scheme == QuantScheme::Symmetric},
            {"scale", p.scale},
            {"offset", offset},
            {"min", lo},
            {"max", hi},
            {"qmin", p.qmin},
            {"qmax", p.qmax},
            {"carrier", onnx_type_name(f.type)},
            {"carrier_bits", f.carrier_bits},
            {"clipped_to_grid", f.narrow}};
  if (p.per_channel()) e["channel_axis"] = p.axis;
  return e;
}

json float_encoding(const QuantizerSetting& s, const QdqFormat& f) {
  const QuantParams& p = s.params;
  json e = {{"bitwidth", p.format.bits},
            {"dtype", "float"},
            {"format", p.format.name()},
            {"enc_type", p.per_channel() ? "PER_CHANNEL" : "PER_TENSOR"},
            {"carrier", onnx_type_name(f.type)},
            {"onnx", f.kind == QdqKind::Cast ? "Cast" : "QuantizeLinear"}};
  if (!p.scale.empty()) e["scale"] = p.scale;
  if (p.per_channel()) e["channel_axis"] = p.axis;
  return e;
}

}  // namespace

json make_encodings(const QuantConfig& cfg, const std::map<std::string, QdqFormat>& fs,
                    const QdqExportOptions& opts) {
  json acts = json::object(), params = json::object(), biases = json::object();
  json table = json::array();
  for (const auto& [name, s] : cfg.quantizers) {
    const bool weight = s.kind == QuantizerKind::Weight;
    table.push_back({{"name", name},
                     {"kind", weight ? "weight" : "activation"},
                     {"format", s.params.format.name()}});
    auto f = fs.find(name);
    if (f == fs.end()) continue;  // left in float
    (weight ? params : acts)[name] =
        s.params.format.is_int() ? int_encoding(s, f->second) : float_encoding(s, f->second);
  }
  for (const auto& [name, b] : cfg.biases)
    biases[name] = {{"bitwidth", 32},
                    {"dtype", "int"},
                    {"enc_type", b.scale.size() > 1 ? "PER_CHANNEL" : "PER_TENSOR"},
                    {"is_symmetric", true},
                    {"scale", b.scale},
                    {"offset", std::vector<int>(b.scale.size(), 0)},
                    {"carrier", "int32"},
                    {"note", "scale = weight scale x input activation scale"}};
  json j = {{"format", "mpq-qdq-encodings"},
            {"version", "1.0"},
            {"convention", "AIMET-style: q = clamp(round(x / scale) - offset, qmin, qmax)"},
            {"model", cfg.model},
            {"config", opts.config_source},
            {"opset", opts.opset},
            {"activation_encodings", acts},
            {"param_encodings", params},
            {"bias_encodings", biases},
            {"quantizers", table}};
  if (!opts.groups.is_null()) j["groups"] = opts.groups;
  return j;
}

}  // namespace mpq
