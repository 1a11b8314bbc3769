#include "qdq_emitter.hpp"

#include <algorithm>
#include <cmath>

#include "sim/float_rounding.hpp"

namespace mpq {
namespace {

// Channel of element e of a tensor quantized along p.axis (0 when per tensor).
struct ChannelIndex {
  std::int64_t inner = 1, channels = 1;
  ChannelIndex(const Shape& shape, int axis) {
    if (axis < 0) return;
    channels = shape[static_cast<std::size_t>(axis)];
    for (std::size_t d = static_cast<std::size_t>(axis) + 1; d < shape.size(); ++d)
      inner *= shape[d];
  }
  std::size_t operator()(std::size_t e) const {
    return static_cast<std::size_t>((static_cast<std::int64_t>(e) / inner) % channels);
  }
};

// The integers fake_quantize rounds a weight to, with its arithmetic (q before (q - zp) x s).
std::vector<std::int32_t> weight_ints(const Tensor& w, const QuantParams& p) {
  const ChannelIndex ch(w.shape, p.axis);
  std::vector<std::int32_t> q(w.f.size());
  for (std::size_t e = 0; e < q.size(); ++e) {
    const std::size_t c = ch(e);
    const float inv = 1.0f / p.scale[c];
    float v = std::nearbyint(w.f[e] * inv) + static_cast<float>(p.zero_point[c]);
    v = std::min(std::max(v, static_cast<float>(p.qmin)), static_cast<float>(p.qmax));
    q[e] = static_cast<std::int32_t>(v);
  }
  return q;
}

// A weight on a float format's grid, before its scale (fp8) is applied again.
std::vector<float> weight_on_float_grid(const Tensor& w, const QuantParams& p) {
  const ChannelIndex ch(w.shape, p.axis);
  const FloatFormatTraits& t = p.format.float_traits();
  std::vector<float> v(w.f.size());
  for (std::size_t e = 0; e < v.size(); ++e) {
    const float scale = p.scale.empty() ? 1.0f : p.scale[ch(e)];
    v[e] = round_to_float_format(scale == 1.0f ? w.f[e] : w.f[e] * (1.0f / scale), t);
  }
  return v;
}

}  // namespace

void QdqEmitter::activation(const std::string& src, const std::string& dst, const QuantParams& p,
                            const QdqFormat& f) {
  if (f.kind == QdqKind::Cast) {
    const std::string h = b_.fresh(dst + "_" + onnx_type_name(f.type));
    QdqBuilder::set_int(b_.add_node("Cast", {src}, {h}), "to", static_cast<int>(f.type));
    QdqBuilder::set_int(b_.add_node("Cast", {h}, {dst}), "to", static_cast<int>(OnnxType::Float));
    counts.cast += 2;
    return;
  }
  std::string x = src;
  if (f.narrow) {  // keep QuantizeLinear's result on the narrow grid
    const float zp = static_cast<float>(p.zero_point[0]);
    const std::string lo = b_.fresh(dst + "_clip_min"), hi = b_.fresh(dst + "_clip_max");
    b_.add_floats(lo, {(static_cast<float>(p.qmin) - zp) * p.scale[0]}, {});
    b_.add_floats(hi, {(static_cast<float>(p.qmax) - zp) * p.scale[0]}, {});
    x = b_.fresh(dst + "_clipped");
    b_.add_node("Clip", {src, lo, hi}, {x});
    ++counts.clip;
  }
  const std::string s = b_.fresh(dst + "_scale"), z = b_.fresh(dst + "_zero_point");
  b_.add_scale_zero(s, z, f.type, p.scale, p.zero_point);
  const std::string q = b_.fresh(dst + "_quantized");
  b_.add_node("QuantizeLinear", {x, s, z}, {q});
  b_.add_node("DequantizeLinear", {q, s, z}, {dst});
  ++counts.quantize;
  ++counts.dequantize;
}

void QdqEmitter::weight(const std::string& name, const Tensor& w, const QuantParams& p,
                        const QdqFormat& f, std::span<const std::int32_t> ints) {
  std::string raw;
  if (f.kind == QdqKind::Cast) {
    const std::string h = b_.fresh(name + "_" + onnx_type_name(f.type));
    b_.add_raw(h, f.type, pack_floats(weight_on_float_grid(w, p), f.type), w.shape);
    QdqBuilder::set_int(b_.add_node("Cast", {h}, {name}), "to", static_cast<int>(OnnxType::Float));
    ++counts.cast;
    return;
  }
  raw = p.format.is_int()
            ? pack_ints(ints.empty() ? weight_ints(w, p)
                                     : std::vector<std::int32_t>(ints.begin(), ints.end()),
                        f.type)
            : pack_floats(weight_on_float_grid(w, p), f.type);
  const std::string q = b_.fresh(name + "_quantized");
  b_.add_raw(q, f.type, raw, w.shape);
  const std::string s = b_.fresh(name + "_scale"), z = b_.fresh(name + "_zero_point");
  b_.add_scale_zero(s, z, f.type, p.scale, p.zero_point);
  auto& dq = b_.add_node("DequantizeLinear", {q, s, z}, {name});
  ++counts.dequantize;
  if (p.per_channel()) QdqBuilder::set_int(dq, "axis", p.axis);
}

void QdqEmitter::bias(const std::string& name, const Tensor& b, const BiasSetting& s) {
  std::vector<std::int32_t> q(b.f.size());
  for (std::size_t c = 0; c < q.size(); ++c) {  // quantize_bias's arithmetic
    const double v = std::nearbyint(b.f[c] / s.scale[c]);
    q[c] = static_cast<std::int32_t>(std::min(std::max(v, -2147483648.0), 2147483647.0));
  }
  const std::string qn = b_.fresh(name + "_quantized");
  b_.add_raw(qn, OnnxType::Int32, pack_ints(q, OnnxType::Int32), b.shape);
  const std::string sn = b_.fresh(name + "_scale");
  b_.add_scale_zero(sn, "", OnnxType::Int32, s.scale, {});
  auto& dq = b_.add_node("DequantizeLinear", {qn, sn}, {name});
  ++counts.dequantize;
  if (s.scale.size() > 1)
    for (std::size_t d = 0; d < b.shape.size(); ++d)
      if (b.shape[d] == static_cast<std::int64_t>(s.scale.size())) {
        QdqBuilder::set_int(dq, "axis", static_cast<std::int64_t>(d));
        break;
      }
}

}  // namespace mpq
