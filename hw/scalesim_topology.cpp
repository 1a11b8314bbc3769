#include "scalesim_topology.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>

#include "csv_line.hpp"

namespace mpq::hw {

Result<std::vector<LayerWorkload>> load_scalesim_topology(const std::string& path) {
  std::ifstream f(path);
  if (!f) return make_error(path + ": cannot open the topology file");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_scalesim_topology(ss.str(), path);
}

namespace {
// Largest dimension accepted (2^24): beyond any real layer, small enough that products of two
// stay exact in a double.
constexpr double kMaxDim = 16777216.0;
}  // namespace

Result<std::vector<LayerWorkload>> parse_scalesim_topology(const std::string& text,
                                                           const std::string& path) {
  static const std::array<const char*, 7> kColumns = {
      "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
      "Channels",     "Num Filter",  "Strides"};
  std::vector<LayerWorkload> layers;
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  bool have_header = false;
  while (std::getline(in, line)) {
    ++line_no;
    auto where = [&](const std::string& what) {
      return make_error(path + ":" + std::to_string(line_no) + ": " + what);
    };
    if (trim(line).empty()) continue;
    auto cells = split_csv_line(line);
    while (!cells.empty() && cells.back().empty()) cells.pop_back();  // trailing commas
    if (!have_header) {
      if (cells.size() < 8 || cells[0] != "Layer name")
        return where(
            "expected the SCALE-Sim header 'Layer name, IFMAP Height, IFMAP Width, "
            "Filter Height, Filter Width, Channels, Num Filter, Strides'");
      have_header = true;
      continue;
    }
    if (cells.size() != 8)
      return where("expected 8 cells (name and 7 numbers), got " + std::to_string(cells.size()));
    std::array<std::int64_t, 7> v{};
    for (std::size_t k = 0; k < kColumns.size(); ++k) {
      double d = 0;
      if (!parse_number(cells[k + 1], d) || d < 1 || d != std::floor(d) || d > kMaxDim)
        return where(cells[0] + ": " + kColumns[k] + ": expected an integer from 1 to " +
                     std::to_string(static_cast<std::int64_t>(kMaxDim)) + ", got '" + cells[k + 1] +
                     "'");
      v[k] = static_cast<std::int64_t>(d);
    }
    const auto [ih, iw, fh, fw, ch, nf, stride] = v;
    if (fh > ih || fw > iw) return where(cells[0] + ": the filter is larger than the input");
    const std::int64_t oh = (ih - fh + stride + stride - 1) / stride;
    const std::int64_t ow = (iw - fw + stride + stride - 1) / stride;
    // Counts in 64 bits: checked in floating point first (each factor is at most kMaxDim).
    const double macs = double(oh) * double(ow) * double(nf) * double(fh * fw) * double(ch);
    const double elements = std::max(
        {double(fh * fw) * double(ch) * double(nf), double(ih) * double(iw) * double(ch), macs});
    if (elements > 0x1p62)
      return where(cells[0] + ": the layer's MAC or element count does not fit 64 bits");
    LayerWorkload w;
    w.name = cells[0];
    w.op_class = (fh == ih && fw == iw) ? "gemm" : "conv";
    w.gemm_m = oh * ow;
    w.gemm_n = nf;
    w.gemm_k = fh * fw * ch;
    w.macs = w.gemm_m * w.gemm_n * w.gemm_k;
    w.weight_elements = fh * fw * ch * nf;
    w.input_elements = ih * iw * ch;
    w.output_elements = oh * ow * nf;
    layers.push_back(w);
  }
  if (layers.empty()) return make_error(path + ": no layers in the topology file");
  return layers;
}

}  // namespace mpq::hw
