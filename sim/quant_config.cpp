#include "quant_config.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "block_quant.hpp"
#include "core/atomic_file.hpp"
#include "integer_text.hpp"

namespace mpq {

std::string integers_to_text(const std::vector<std::int32_t>& v) {
  std::string out;
  out.reserve(v.size() * 3);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(v[i]);
  }
  return out;
}

std::optional<std::vector<std::int32_t>> integers_from_text(const std::string& text) {
  std::vector<std::int32_t> v;
  const char* p = text.c_str();
  const char* end = p + text.size();
  while (p < end) {
    if (*p == ' ') {
      ++p;
      continue;
    }
    std::int32_t x = 0;
    const auto [next, ec] = std::from_chars(p, end, x);
    if (ec != std::errc() || (next < end && *next != ' ')) return std::nullopt;
    v.push_back(x);
    p = next;
  }
  return v;
}

namespace {

// Stored integer parameters inside the format's grid (a signed or unsigned `bits`-bit code), and
// each zero point inside [qmin, qmax]: anything else would compute another network. In 64 bits:
// a hostile qmin/qmax pair overflows 32.
std::optional<std::string> int_grid_problem(const QuantParams& p, int bits) {
  const std::int64_t lo = -(std::int64_t{1} << (bits - 1)), hi = (std::int64_t{1} << bits) - 1;
  const std::int64_t qmin = p.qmin, qmax = p.qmax;
  if (qmin < lo || qmax > hi || qmin >= qmax || qmax - qmin > hi)
    return "qmin/qmax [" + std::to_string(qmin) + ", " + std::to_string(qmax) + "] do not fit int" +
           std::to_string(bits) + " (a range of at most " + std::to_string(hi) + " steps within [" +
           std::to_string(lo) + ", " + std::to_string(hi) + "])";
  for (const auto z : p.zero_point)
    if (z < qmin || z > qmax)
      return "zero_point " + std::to_string(z) + " is outside [qmin, qmax] = [" +
             std::to_string(qmin) + ", " + std::to_string(qmax) + "]";
  return std::nullopt;
}

using nlohmann::json;

// The stored AdaRound integers of weight quantizer `where`: one per element, on the grid.
std::optional<std::string> integer_weights_problem(const QuantizerSetting& s, std::int64_t size) {
  if (static_cast<std::int64_t>(s.integer_weights.size()) != size)
    return "\"integer_weights\" has " + std::to_string(s.integer_weights.size()) +
           " values, the weight has " + std::to_string(size);
  for (const auto q : s.integer_weights)
    if (q < s.params.qmin || q > s.params.qmax)
      return "integer weight " + std::to_string(q) + " is outside [qmin, qmax] = [" +
             std::to_string(s.params.qmin) + ", " + std::to_string(s.params.qmax) + "]";
  return std::nullopt;
}

const char* kind_name(QuantizerKind k) {
  return k == QuantizerKind::Weight ? "weight" : "activation";
}
const char* scheme_name(QuantScheme s) {
  return s == QuantScheme::Symmetric ? "symmetric" : "asymmetric";
}

// Number of channels of a quantizer along `axis`, from the weight's shape.
std::int64_t channels_of(const Network& net, const Quantizer& q, int axis) {
  if (axis < 0) return 1;
  const auto& w = net.model.initializers.at(q.name);
  return axis < w.rank() ? w.shape[static_cast<std::size_t>(axis)] : -1;
}

}  // namespace

QuantParams params_from_range(NumberFormat format, QuantScheme scheme, bool non_negative, int axis,
                              const std::vector<float>& lo, const std::vector<float>& hi) {
  QuantParams p;
  p.format = format;
  p.axis = axis;
  if (format.is_int()) {
    const IntGrid g = int_grid(format.bits, scheme, non_negative);
    p.qmin = g.qmin;
    p.qmax = g.qmax;
    for (std::size_t c = 0; c < lo.size(); ++c) {
      const ScaleZero sz = scale_from_range(lo[c], hi[c], g, scheme);
      p.scale.push_back(sz.scale);
      p.zero_point.push_back(sz.zero_point);
    }
  } else if (format.is_block()) {
    if (format.kind == FormatKind::IntGroup) {
      p.qmax = (1 << (format.bits - 1)) - 1;  // symmetric: the scale is amax / qmax
      p.qmin = -p.qmax;
    }
    if (format.block_traits().tensor_scale) {
      float amax = 0;
      for (std::size_t c = 0; c < lo.size(); ++c)
        amax = std::max({amax, std::fabs(lo[c]), std::fabs(hi[c])});
      p.scale.push_back(nvfp4_tensor_scale(amax));
    }
  } else if (format.float_traits().scaled) {
    for (std::size_t c = 0; c < lo.size(); ++c) {
      const float amax = std::max(std::fabs(lo[c]), std::fabs(hi[c]));
      p.scale.push_back(amax > 0 ? amax / format.float_traits().max_finite : 1.0f);
    }
  }
  return p;
}

void set_block_axes(QuantParams& p, const Quantizer& q) {
  if (!p.format.is_block()) return;
  p.block_axis = q.reduction_axis;
  p.block_axes = q.reduction_axes;
}

void derive_biases(const Network& net, const QuantizerPlacement& placement, QuantConfig& cfg) {
  cfg.biases.clear();
  if (cfg.bias_mode != BiasMode::Int32) return;
  for (std::size_t k : net.order) {
    const OpNode& n = net.node(k);
    if (!has_weight_quantizer(net, k) || !n.has_input(2) || !net.model.is_constant(n.inputs[2]))
      continue;
    const Quantizer* wq = placement.input_quantizer(net, k, 1);
    const Quantizer* aq = placement.input_quantizer(net, k, 0);
    if (!wq || !aq) continue;
    auto w = cfg.quantizers.find(wq->name);
    auto a = cfg.quantizers.find(aq->name);
    if (w == cfg.quantizers.end() || a == cfg.quantizers.end()) continue;
    const QuantParams& pw = w->second.params;
    const QuantParams& pa = a->second.params;
    if (!pw.format.is_int() || !pa.format.is_int()) continue;
    BiasSetting b;
    b.bits = pw.format.bits <= 8 && pa.format.bits <= 8 ? 32 : 64;
    const std::int64_t channels = net.model.initializers.at(n.inputs[2]).size();
    for (std::int64_t c = 0; c < channels; ++c)
      b.scale.push_back(pw.scale[pw.scale.size() == 1 ? 0 : static_cast<std::size_t>(c)] *
                        pa.scale[0]);
    cfg.biases[n.inputs[2]] = std::move(b);
  }
}

json config_to_json(const QuantConfig& cfg) {
  json qs = json::object();
  for (const auto& [name, s] : cfg.quantizers) {
    const QuantParams& p = s.params;
    json q = {{"kind", kind_name(s.kind)}, {"format", p.format.name()}};
    if (p.format.is_identity()) {
      qs[name] = q;
      continue;
    }
    if (p.format.is_int()) q["scheme"] = scheme_name(s.scheme);
    q["granularity"] = p.format.is_block() ? "block"
                       : p.per_channel()   ? "per_channel"
                                           : "per_tensor";
    if (p.format.is_block()) {
      // Informational: mpq derives the blocks from the quantizer's place in the graph.
      q["block"] = p.format.block;
      q["block_axis"] = p.block_axis;
      q["block_axes"] = p.block_axes;
    }
    if (p.per_channel()) q["axis"] = p.axis;
    q["min"] = s.range_min;
    q["max"] = s.range_max;
    if (!p.scale.empty()) q["scale"] = p.scale;
    if (p.format.is_int()) {
      q["zero_point"] = p.zero_point;
      q["qmin"] = p.qmin;
      q["qmax"] = p.qmax;
    }
    if (!s.integer_weights.empty()) {
      q["rounding"] = "adaround";
      q["integer_weights"] = integers_to_text(s.integer_weights);
    }
    qs[name] = q;
  }
  json biases = json::object();
  for (const auto& [name, b] : cfg.biases)
    biases[name] = {{"format", "int" + std::to_string(b.bits)}, {"scale", b.scale}};
  json out = {{"format", "mpq-quant-config"},
              {"version", 1},
              {"model", cfg.model},
              {"bias", cfg.bias_mode == BiasMode::Int32 ? "int32" : "float"},
              {"notes", cfg.notes},
              {"quantizers", qs},
              {"biases", biases}};
  if (!cfg.input_shapes.empty()) out["input_shapes"] = cfg.input_shapes;
  if (!cfg.placement.empty()) out["placement"] = cfg.placement;
  if (!cfg.corrected_biases.empty()) out["corrected_biases"] = cfg.corrected_biases;
  return out;
}

Result<QuantConfig> config_from_json(const json& j, const Network& net,
                                     const QuantizerPlacement& placement,
                                     const std::string& source) {
  const auto bad = [&](const std::string& what) { return make_error(source + ": " + what); };
  try {
    if (!j.is_object() || j.value("format", "") != "mpq-quant-config")
      return bad(
          "not an mpq quantization configuration (\"format\": \"mpq-quant-config\" missing)");
    if (j.value("version", 0) != 1)
      return bad("configuration version " + j.value("version", json(0)).dump() +
                 " is not supported (this mpq reads version 1)");
    QuantConfig cfg;
    cfg.model = j.value("model", "");
    const std::string bias = j.value("bias", "int32");
    if (bias != "int32" && bias != "float") return bad("\"bias\" must be \"int32\" or \"float\"");
    cfg.bias_mode = bias == "int32" ? BiasMode::Int32 : BiasMode::Float;
    if (j.contains("notes")) cfg.notes = j.at("notes").get<std::map<std::string, std::string>>();
    cfg.placement = j.value("placement", "");
    if (j.contains("input_shapes"))
      cfg.input_shapes = j.at("input_shapes").get<std::vector<std::string>>();
    for (const auto& [name, q] : j.at("quantizers").items()) {
      const std::string where = "quantizer '" + name + "'";
      const Quantizer* mq = placement.find(name);
      if (!mq)
        return bad(where + " does not exist in the model (`mpq inspect --quantizers` lists them)");
      QuantizerSetting s;
      s.kind = mq->kind;
      const std::string kind = q.value("kind", kind_name(mq->kind));
      if (kind != kind_name(mq->kind))
        return bad(where + " is a " + kind_name(mq->kind) + " quantizer, not " + kind);
      auto fmt = parse_format(q.at("format").get<std::string>());
      if (!fmt) return bad(where + ": " + fmt.error().message);
      s.params.format = *fmt;
      if (fmt->is_identity()) {
        cfg.quantizers[name] = s;
        continue;
      }
      const std::string scheme = q.value("scheme", "symmetric");
      if (scheme != "symmetric" && scheme != "asymmetric")
        return bad(where + ": scheme must be symmetric or asymmetric, not '" + scheme + "'");
      s.scheme = scheme == "symmetric" ? QuantScheme::Symmetric : QuantScheme::Asymmetric;
      const int axis = q.value("axis", -1);
      if (axis >= 0 && mq->kind != QuantizerKind::Weight)
        return bad(where + ": per-channel quantization is only for weights");
      if (axis >= 0 && fmt->is_block())
        return bad(where + ": a block format (" + fmt->name() + ") has no per-channel axis");
      const std::int64_t channels = channels_of(net, *mq, axis);
      if (channels < 0) return bad(where + ": axis " + std::to_string(axis) + " is out of range");
      s.range_min = q.at("min").get<std::vector<float>>();
      s.range_max = q.at("max").get<std::vector<float>>();
      if (static_cast<std::int64_t>(s.range_min.size()) != channels ||
          s.range_max.size() != s.range_min.size())
        return bad(where + ": \"min\" and \"max\" need " + std::to_string(channels) +
                   " value(s), one per channel");
      s.params =
          params_from_range(*fmt, s.scheme, mq->non_negative, axis, s.range_min, s.range_max);
      set_block_axes(s.params, *mq);
      // Stored parameters win over re-derived ones: they are what other engines were given.
      if (q.contains("scale")) s.params.scale = q.at("scale").get<std::vector<float>>();
      if (q.contains("zero_point"))
        s.params.zero_point = q.at("zero_point").get<std::vector<std::int32_t>>();
      s.params.qmin = q.value("qmin", s.params.qmin);
      s.params.qmax = q.value("qmax", s.params.qmax);
      const auto n = static_cast<std::size_t>(channels);
      if ((!s.params.scale.empty() && s.params.scale.size() != n) ||
          (fmt->is_int() && s.params.zero_point.size() != n))
        return bad(where + ": \"scale\"/\"zero_point\" need " + std::to_string(channels) +
                   " value(s)");
      for (float sc : s.params.scale)
        if (!(sc > 0) || !std::isfinite(sc)) return bad(where + ": scales must be positive");
      if (fmt->is_int())
        if (auto why = int_grid_problem(s.params, fmt->bits)) return bad(where + ": " + *why);
      if (q.contains("integer_weights")) {
        if (!fmt->is_int() || mq->kind != QuantizerKind::Weight)
          return bad(where + ": \"integer_weights\" are for integer weight formats");
        auto ints = integers_from_text(q.at("integer_weights").get<std::string>());
        if (!ints) return bad(where + ": \"integer_weights\" must be integers separated by spaces");
        s.integer_weights = std::move(*ints);
        if (auto why = integer_weights_problem(s, net.model.initializers.at(name).size()))
          return bad(where + ": " + *why);
      }
      cfg.quantizers[name] = std::move(s);
    }
    const std::string here = placement_fingerprint(placement);
    if (!cfg.placement.empty() && cfg.placement != here)
      return bad("made for another quantizer placement (" + cfg.placement + ", here " + here +
                 ": " + std::to_string(placement.quantizers.size()) + " quantizers, fusion rules " +
                 placement.rules +
                 "): it was calibrated with other fusion rules (--hw) or another version of "
                 "the graph canonicalization; recalibrate it with `mpq quantize` (and the same "
                 "--hw)");
    if (j.contains("corrected_biases"))
      for (const auto& [name, v] : j.at("corrected_biases").items()) {
        const auto t = net.model.initializers.find(name);
        auto values = v.get<std::vector<float>>();
        if (t == net.model.initializers.end() || !t->second.is_float() ||
            t->second.size() != static_cast<std::int64_t>(values.size()))
          return bad("corrected_biases: '" + name + "' is not a float tensor of " +
                     std::to_string(values.size()) + " values in the model");
        for (float x : values)
          if (!std::isfinite(x)) return bad("corrected_biases: '" + name + "' is not finite");
        cfg.corrected_biases[name] = std::move(values);
      }
    derive_biases(net, placement, cfg);
    return cfg;
  } catch (const json::exception& e) {
    return bad(std::string("malformed configuration: ") + e.what());
  }
}

Result<json> read_config_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error("cannot read configuration '" + path + "'");
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    return make_error(path + ": not valid JSON: " + e.what());
  }
  return j;
}

Result<QuantConfig> read_config(const std::string& path, const Network& net,
                                const QuantizerPlacement& placement) {
  auto j = read_config_json(path);
  if (!j) return j.error();
  return config_from_json(*j, net, placement, path);
}

Status write_config(const std::string& path, const QuantConfig& cfg) {
  return write_file_atomically(path, config_to_json(cfg).dump(1) + "\n");
}

}  // namespace mpq
