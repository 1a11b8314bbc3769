#pragma once
// Charts through gnuplot (gnuplot-iostream), each written as PNG and SVG. Files appear only
// when gnuplot finished them: it writes to temporary names that are renamed afterwards.
#include <string>
#include <vector>

#include "core/result.hpp"

namespace mpq {

struct PlotSeries {
  std::string title;
  std::string style = "linespoints";  // gnuplot "with" clause: points, lines, linespoints, ...
  std::vector<double> x, y;
  std::vector<std::string> labels;  // optional point labels
};

struct PlotSpec {
  std::string title, xlabel, ylabel;
  std::vector<PlotSeries> series;
  std::vector<std::string> xtic_labels;  // categorical x axis: labels at x = 0, 1, ...
  bool logscale_x = false;
  std::string key_position = "outside right top";
  int width = 1000, height = 600;
};

// Writes `base`.png and `base`.svg. An error when gnuplot is missing or fails.
Status render_plot(const PlotSpec& spec, const std::string& base);

}  // namespace mpq
