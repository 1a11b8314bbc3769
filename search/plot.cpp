#include "plot.hpp"

#include <gnuplot-iostream.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <sstream>

namespace mpq {
namespace {

std::string quoted(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

// The gnuplot script for one terminal, with its data inline.
std::string script(const PlotSpec& p, const std::string& terminal, const std::string& file) {
  std::ostringstream s;
  s << "set terminal " << terminal << " size " << p.width << "," << p.height << "\n";
  s << "set output " << quoted(file) << "\n";
  s << "set title " << quoted(p.title) << "\n";
  s << "set xlabel " << quoted(p.xlabel) << "\nset ylabel " << quoted(p.ylabel) << "\n";
  s << "set grid\nset key " << p.key_position << "\n";
  if (p.logscale_x) s << "set logscale x\nset format x \"%.0e\"\n";
  if (!p.xtic_labels.empty()) {
    s << "set xtics rotate by -45 font \",8\" (";
    for (std::size_t k = 0; k < p.xtic_labels.size(); ++k)
      s << (k ? ", " : "") << quoted(p.xtic_labels[k]) << " " << k;
    s << ")\nset xrange [-0.5:" << static_cast<double>(p.xtic_labels.size()) - 0.5 << "]\n";
  }
  s << "plot ";
  bool first = true;
  for (const auto& ser : p.series) {
    s << (first ? "" : ", ") << "'-' using 1:2 with " << ser.style << " title "
      << quoted(ser.title);
    if (!ser.labels.empty())
      s << ", '-' using 1:2:3 with labels offset 0.5,0.5 font \",8\" notitle";
    first = false;
  }
  s << "\n";
  s.precision(17);
  for (const auto& ser : p.series) {
    for (std::size_t k = 0; k < ser.x.size(); ++k)
      if (std::isfinite(ser.x[k]) && std::isfinite(ser.y[k]))
        s << ser.x[k] << " " << ser.y[k] << "\n";
    s << "e\n";
    if (!ser.labels.empty()) {
      for (std::size_t k = 0; k < ser.x.size(); ++k)
        if (std::isfinite(ser.x[k]) && std::isfinite(ser.y[k]))
          s << ser.x[k] << " " << ser.y[k] << " " << quoted(ser.labels[k]) << "\n";
      s << "e\n";
    }
  }
  s << "set output\n";
  return s.str();
}

}  // namespace

Status render_plot(const PlotSpec& spec, const std::string& base) {
  const std::string tag = ".tmp" + std::to_string(::getpid());
  const std::string png = base + ".png", svg = base + ".svg";
  {
    // The destructor waits for gnuplot to exit, so the files are complete afterwards.
    Gnuplot gp("gnuplot -persist 2>" + base + ".gnuplot.log");
    gp << script(spec, "pngcairo noenhanced font \"sans,10\"", png + tag);
    gp << script(spec, "svg noenhanced font \"sans,10\"", svg + tag);
    gp << "exit\n";
    gp.flush();
  }
  std::error_code ec;
  const bool ok = std::filesystem::exists(png + tag) && std::filesystem::exists(svg + tag) &&
                  std::filesystem::file_size(png + tag, ec) > 0;
  if (!ok) {
    std::filesystem::remove(png + tag, ec);
    std::filesystem::remove(svg + tag, ec);
    return make_error("gnuplot could not draw " + png + " (is gnuplot installed? see " + base +
                      ".gnuplot.log)");
  }
  std::filesystem::rename(png + tag, png, ec);
  std::filesystem::rename(svg + tag, svg, ec);
  std::filesystem::remove(base + ".gnuplot.log", ec);
  if (ec) return make_error("cannot write " + png + ": " + ec.message());
  return Ok{};
}

}  // namespace mpq
