#pragma once
// One number as text for CSV files, reports and tables.
#include <cmath>
#include <cstdio>
#include <string>

namespace mpq {

// `v` printed with the printf `format` (one double conversion); a NaN (a missing value) is
// `nan_text`.
inline std::string number_text(double v, const char* format, const char* nan_text = "") {
  if (std::isnan(v)) return nan_text;
  char buf[40];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace mpq
