// Attribute resolution for Conv and ConvTranspose (pads, auto_pad, output sizes).
#include <algorithm>
#include <cassert>
#include <limits>

#include "sim/ops/conv_common.hpp"

namespace mpq {
namespace {

std::string ints_str(const std::vector<std::int64_t>& v) {
  std::string s = "[";
  for (std::size_t k = 0; k < v.size(); ++k) s += (k ? "," : "") + std::to_string(v[k]);
  return s + "]";
}

// Floor division (C++ '/' truncates toward zero; split of negative padding must floor).
std::int64_t floor_div2(std::int64_t a) {
  return a >= 0 ? a / 2 : -((1 - a) / 2);
}

// Reads an int list attribute of `n` entries (default `dflt` for each when absent).
std::vector<std::int64_t> attr_list(const OpNode& node, const char* key, std::size_t n,
                                    std::int64_t dflt) {
  auto v = node.attr_ints(key, std::vector<std::int64_t>(n, dflt));
  if (v.size() != n)
    throw OpError(std::string("attribute ") + key + "=" + ints_str(v) + " must have " +
                  std::to_string(n) + " values");
  return v;
}

std::string auto_pad_of(const OpNode& node) {
  const std::string a = node.attr_string("auto_pad", "NOTSET");
  return a.empty() ? "NOTSET" : a;
}

// Common part: ranks, strides, dilations, kernel_shape; fills g.in / g.kernel right-aligned.
ConvGeometry base_geometry(const OpNode& node, const Shape& x, const Shape& w) {
  if (x.size() < 3 || x.size() > 5)
    throw OpError("input X must have rank 3, 4 or 5 (N, C, spatial...), got " + shape_str(x));
  if (w.size() != x.size())
    throw OpError("weight W " + shape_str(w) + " must have the rank of X " + shape_str(x));
  ConvGeometry g;
  g.spatial = static_cast<int>(x.size()) - 2;
  const std::size_t s = static_cast<std::size_t>(g.spatial), off = 3 - s;
  g.batch = x[0];
  g.in_channels = x[1];
  g.group = node.attr_int("group", 1);
  if (g.group < 1) throw OpError("attribute group=" + std::to_string(g.group) + " must be >= 1");
  const auto strides = attr_list(node, "strides", s, 1);
  const auto dilations = attr_list(node, "dilations", s, 1);
  if (node.has_attr("kernel_shape")) {
    const auto ks = attr_list(node, "kernel_shape", s, 1);
    for (std::size_t d = 0; d < s; ++d)
      if (ks[d] != w[2 + d])
        throw OpError("kernel_shape=" + ints_str(ks) + " does not match weight shape " +
                      shape_str(w));
  }
  for (std::size_t d = 0; d < s; ++d) {
    g.in[off + d] = x[2 + d];
    g.kernel[off + d] = w[2 + d];
    g.stride[off + d] = strides[d];
    g.dilation[off + d] = dilations[d];
    if (strides[d] < 1 || dilations[d] < 1)
      throw OpError("strides and dilations must be >= 1, got strides=" + ints_str(strides) +
                    " dilations=" + ints_str(dilations));
    if (w[2 + d] < 1) throw OpError("weight W " + shape_str(w) + " has an empty kernel");
  }
  return g;
}

void set_explicit_pads(const OpNode& node, ConvGeometry& g) {
  const std::size_t s = static_cast<std::size_t>(g.spatial), off = 3 - s;
  const auto pads = attr_list(node, "pads", 2 * s, 0);
  for (std::size_t d = 0; d < s; ++d) {
    g.pad_begin[off + d] = pads[d];
    g.pad_end[off + d] = pads[s + d];
  }
}

}  // namespace

Shape ConvGeometry::x_shape() const {
  Shape s{batch, in_channels};
  for (int d = 3 - spatial; d < 3; ++d) s.push_back(in[static_cast<std::size_t>(d)]);
  return s;
}

Shape ConvGeometry::y_shape() const {
  Shape s{batch, out_channels};
  for (int d = 3 - spatial; d < 3; ++d) s.push_back(out[static_cast<std::size_t>(d)]);
  return s;
}

Shape ConvGeometry::pooled_y_shape() const {
  assert(spatial == 2);
  return {batch, out_channels, out[1] / 2, out[2] / 2};
}

Shape ConvGeometry::w_shape(bool transpose) const {
  Shape s = transpose ? Shape{in_channels, out_channels / group}
                      : Shape{out_channels, in_channels / group};
  for (int d = 3 - spatial; d < 3; ++d) s.push_back(kernel[static_cast<std::size_t>(d)]);
  return s;
}

ConvGeometry conv_geometry(const OpNode& node, const Shape& x, const Shape& w) {
  ConvGeometry g = base_geometry(node, x, w);
  g.out_channels = w[0];
  if (w[1] * g.group != g.in_channels || g.out_channels % g.group != 0)
    throw OpError("weight W " + shape_str(w) + " does not fit input " + shape_str(x) +
                  " with group=" + std::to_string(g.group));
  const std::string auto_pad = auto_pad_of(node);
  if (auto_pad == "NOTSET") set_explicit_pads(node, g);
  for (int d = 3 - g.spatial; d < 3; ++d) {
    const auto k = static_cast<std::size_t>(d);
    const std::int64_t span = (g.kernel[k] - 1) * g.dilation[k] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      g.out[k] = (g.in[k] + g.stride[k] - 1) / g.stride[k];
      const std::int64_t total =
          std::max<std::int64_t>(0, (g.out[k] - 1) * g.stride[k] + span - g.in[k]);
      g.pad_begin[k] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[k] = total - g.pad_begin[k];
    } else {
      g.out[k] = (g.in[k] + g.pad_begin[k] + g.pad_end[k] - span) / g.stride[k] + 1;
    }
    if (g.out[k] < 1 || g.in[k] + g.pad_begin[k] + g.pad_end[k] < span)
      throw OpError("kernel " + shape_str(w) + " does not fit padded input " + shape_str(x));
  }
  return g;
}

ConvGeometry conv_transpose_geometry(const OpNode& node, const Shape& x, const Shape& w) {
  ConvGeometry g = base_geometry(node, x, w);
  const std::size_t s = static_cast<std::size_t>(g.spatial), off = 3 - s;
  if (w[0] != g.in_channels || g.in_channels % g.group != 0)
    throw OpError("weight W " + shape_str(w) + " does not fit input " + shape_str(x) +
                  " with group=" + std::to_string(g.group));
  g.out_channels = w[1] * g.group;
  const std::string auto_pad = auto_pad_of(node);
  const auto out_pad = attr_list(node, "output_padding", s, 0);
  std::vector<std::int64_t> out_shape = node.attr_ints("output_shape");
  if (out_shape.size() == s + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && out_shape.size() != s)
    throw OpError("attribute output_shape=" + ints_str(out_shape) + " must have " +
                  std::to_string(s) + " values");
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  if (auto_pad == "NOTSET") set_explicit_pads(node, g);
  for (std::size_t d = 0; d < s; ++d) {
    const std::size_t k = off + d;
    const std::int64_t span = (g.kernel[k] - 1) * g.dilation[k] + 1;
    const std::int64_t full = g.stride[k] * (g.in[k] - 1) + out_pad[d] + span;
    if (!out_shape.empty() || same) {
      // Pads follow from the requested size; a negative total extends the output instead.
      g.out[k] = !out_shape.empty() ? out_shape[d] : g.in[k] * g.stride[k];
      const std::int64_t total = full - g.out[k];
      const std::int64_t half = floor_div2(total);
      g.pad_begin[k] = auto_pad == "SAME_UPPER" ? half : total - half;
      g.pad_end[k] = total - g.pad_begin[k];
    } else {
      g.out[k] = full - g.pad_begin[k] - g.pad_end[k];
    }
    if (g.out[k] < 1)
      throw OpError("ConvTranspose output would be empty for input " + shape_str(x));
  }
  return g;
}

std::optional<std::string> validate_conv_attributes(const OpNode& node) {
  const std::string a = auto_pad_of(node);
  if (a != "NOTSET" && a != "SAME_UPPER" && a != "SAME_LOWER" && a != "VALID")
    return "unsupported auto_pad value '" + a + "'";
  if (node.attr_int("group", 1) < 1)
    return "unsupported group=" + std::to_string(node.attr_int("group", 1));
  return std::nullopt;
}

}  // namespace mpq
