// mpq_fake_quant_tool: applies one quantizer to a .npy array, for the bit-exactness tests
// against PyTorch (tests/e2e/test_fake_quant_torch.py).
//
//   mpq_fake_quant_tool IN.npy QUANTIZER OUT.npy
//
// QUANTIZER is JSON text (starting with '{') or a file holding it, in the shape of one entry
// of a configuration's "quantizers":
//   {"format": "int8", "scale": [0.1], "zero_point": [0], "qmin": -128, "qmax": 127, "axis": -1}
// ("scale" and "zero_point" may also be plain numbers; "axis" >= 0 means one scale and zero
// point per channel along that axis; fp16/bf16 take no scale, fp8 formats may take one).
// The array is quantized twice: by mpq's fast path (fake_quantize, vectorized and parallel)
// and element by element by the references (fake_quantize_int_reference for integer formats,
// round_to_float_format for float formats). Any element where the two differ (float32 bit
// patterns; two NaNs count as equal) is printed and the exit code is 1. Otherwise the fast
// path's result is written to OUT.npy (float32) and the exit code is 0; bad usage or input: 2.
// Block formats ("mxfp4", "nvfp4", "int4_g32", ...; with "block_axis", "block_axes" and for
// nvfp4 the per-tensor "scale") are only quantized and written: their reference is numpy's
// (tests/reference/block_formats_reference.py, run by tests/e2e/test_block_formats.py).
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/guarded_main.hpp"
#include "sim/fake_quant.hpp"
#include "sim/float_rounding.hpp"
#include "sim/npy.hpp"

namespace {

using nlohmann::json;

int usage_error(const std::string& msg) {
  std::cerr << "mpq_fake_quant_tool: " << msg << "\n"
            << "usage: mpq_fake_quant_tool IN.npy QUANTIZER_JSON_OR_FILE OUT.npy\n";
  return 2;
}

template <class T>
std::vector<T> number_or_list(const json& q, const char* key) {
  if (!q.contains(key)) return {};
  const json& v = q.at(key);
  if (v.is_array()) return v.get<std::vector<T>>();
  return {v.get<T>()};
}

bool same_bits(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

}  // namespace

static int run(int argc, char** argv) {
  if (argc != 4) return usage_error("expected 3 arguments");
  const std::string in_path = argv[1], spec = argv[2], out_path = argv[3];

  std::string text = spec;
  if (spec.empty() || spec.front() != '{') {
    std::ifstream f(spec);
    if (!f) return usage_error("cannot read quantizer file '" + spec + "'");
    std::stringstream ss;
    ss << f.rdbuf();
    text = ss.str();
  }

  mpq::QuantParams p;
  try {
    const json q = json::parse(text);
    auto fmt = mpq::parse_format(q.at("format").get<std::string>());
    if (!fmt) return usage_error(fmt.error().message);
    p.format = *fmt;
    p.axis = q.value("axis", -1);
    p.block_axis = q.value("block_axis", -1);
    p.block_axes = q.value("block_axes", 1);
    p.scale = number_or_list<float>(q, "scale");
    p.zero_point = number_or_list<std::int32_t>(q, "zero_point");
    if (p.format.is_int()) {
      if (p.scale.empty()) return usage_error("integer formats need \"scale\"");
      if (p.zero_point.empty()) p.zero_point.assign(p.scale.size(), 0);
      p.qmin = q.at("qmin").get<std::int32_t>();
      p.qmax = q.at("qmax").get<std::int32_t>();
      if (p.qmin >= p.qmax) return usage_error("qmin must be below qmax");
      if (p.zero_point.size() != p.scale.size())
        return usage_error("\"scale\" and \"zero_point\" differ in length");
    }
    for (float s : p.scale)
      if (!(s > 0) || !std::isfinite(s)) return usage_error("scales must be positive and finite");
  } catch (const json::exception& e) {
    return usage_error(std::string("bad quantizer JSON: ") + e.what());
  }

  auto in = mpq::read_npy(in_path);
  if (!in) return usage_error(in.error().message);
  if (!in->is_float()) return usage_error("'" + in_path + "' is not a float array");
  const mpq::Tensor& x = *in;

  if (p.format.is_block()) {
    if (p.per_channel()) return usage_error("block formats take \"block_axis\", not \"axis\"");
    mpq::Tensor out;
    mpq::fake_quantize(x, out, p);
    if (auto st = mpq::write_npy(out_path, out); !st) return usage_error(st.error().message);
    return 0;
  }

  std::int64_t channels = 1, inner = x.size();
  if (p.per_channel()) {
    if (p.axis >= x.rank())
      return usage_error("axis " + std::to_string(p.axis) + " is out of range for shape " +
                         mpq::shape_str(x.shape));
    channels = x.shape[static_cast<std::size_t>(p.axis)];
    inner = 1;
    for (std::size_t d = static_cast<std::size_t>(p.axis) + 1; d < x.shape.size(); ++d)
      inner *= x.shape[d];
    if (static_cast<std::int64_t>(p.scale.size()) != channels)
      return usage_error("per-channel quantizer needs " + std::to_string(channels) +
                         " scales, got " + std::to_string(p.scale.size()));
  } else if (p.scale.size() > 1) {
    return usage_error("a per-tensor quantizer takes one scale (give \"axis\" for per-channel)");
  }

  mpq::Tensor fast;
  mpq::fake_quantize(x, fast, p);

  std::int64_t mismatches = 0;
  for (std::int64_t k = 0; k < x.size(); ++k) {
    const auto c = static_cast<std::size_t>(p.per_channel() ? (k / inner) % channels : 0);
    const float v = x.f[static_cast<std::size_t>(k)];
    float want;
    if (p.format.is_identity()) {
      want = v;
    } else if (p.format.is_int()) {
      want = mpq::fake_quantize_int_reference(v, p.scale[c], p.zero_point[c], p.qmin, p.qmax);
    } else if (p.scale.empty()) {
      want = mpq::round_to_float_format(v, p.format.float_traits());
    } else {
      want =
          mpq::round_to_float_format(v * (1.0f / p.scale[c]), p.format.float_traits()) * p.scale[c];
    }
    const float got = fast.f[static_cast<std::size_t>(k)];
    if (!same_bits(got, want)) {
      if (++mismatches <= 20)
        std::fprintf(stderr,
                     "mismatch at element %lld: x = %.9g (0x%08x): fast path %.9g (0x%08x), "
                     "reference %.9g (0x%08x)\n",
                     static_cast<long long>(k), static_cast<double>(v),
                     std::bit_cast<std::uint32_t>(v), static_cast<double>(got),
                     std::bit_cast<std::uint32_t>(got), static_cast<double>(want),
                     std::bit_cast<std::uint32_t>(want));
    }
  }
  if (mismatches) {
    std::fprintf(stderr, "FAIL: %lld of %lld elements differ between fast path and reference\n",
                 static_cast<long long>(mismatches), static_cast<long long>(x.size()));
    return 1;
  }
  if (auto st = mpq::write_npy(out_path, fast); !st) return usage_error(st.error().message);
  return 0;
}

int main(int argc, char** argv) {
  return mpq::guarded_main("fake_quant_tool", [&] { return run(argc, argv); });
}
