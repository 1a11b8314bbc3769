#include "measured_latency_table.hpp"

#include <fstream>
#include <sstream>

#include "csv_line.hpp"

namespace mpq::hw {

std::optional<double> MeasuredLatencyTable::find(const std::string& layer, int candidate) const {
  auto l = seconds.find(layer);
  if (l == seconds.end()) return std::nullopt;
  auto c = l->second.find(candidate);
  if (c == l->second.end()) return std::nullopt;
  return c->second;
}

Result<MeasuredLatencyTable> load_measured_latencies(const std::string& path,
                                                     const std::vector<Candidate>& candidates) {
  std::ifstream f(path);
  if (!f) return make_error(path + ": cannot open the measured latency table");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_measured_latencies(ss.str(), path, candidates);
}

Result<MeasuredLatencyTable> parse_measured_latencies(const std::string& text,
                                                      const std::string& path,
                                                      const std::vector<Candidate>& candidates) {
  MeasuredLatencyTable t;
  t.path = path;
  std::vector<int> column_candidate;  // per column after the first
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  bool have_header = false;
  auto where = [&](const std::string& what) {
    return make_error(path + ":" + std::to_string(line_no) + ": " + what);
  };
  while (std::getline(in, line)) {
    ++line_no;
    const std::string trimmed = trim(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    auto cells = split_csv_line(trimmed);
    if (!have_header) {
      if (cells[0] != "layer") return where("first column: expected the header 'layer'");
      for (std::size_t k = 1; k < cells.size(); ++k) {
        int idx = -1;
        for (std::size_t c = 0; c < candidates.size(); ++c)
          if (candidates[c].name() == cells[k]) idx = static_cast<int>(c);
        if (idx < 0) return where(cells[k] + ": not a declared candidate");
        column_candidate.push_back(idx);
      }
      if (column_candidate.empty()) return where("header: no candidate columns");
      have_header = true;
      continue;
    }
    if (cells.size() > column_candidate.size() + 1)
      return where(cells[0] + ": more cells than header columns");
    if (t.seconds.count(cells[0])) return where(cells[0] + ": layer listed twice");
    auto& row = t.seconds[cells[0]];
    for (std::size_t k = 1; k < cells.size(); ++k) {
      if (cells[k].empty()) continue;
      double us = 0;
      if (!parse_number(cells[k], us) || us <= 0)
        return where(cells[0] + ": " + candidates[column_candidate[k - 1]].name() +
                     ": latency must be a positive number of microseconds, got '" + cells[k] + "'");
      row[column_candidate[k - 1]] = us * 1e-6;
    }
  }
  if (!have_header) return make_error(path + ": empty measured latency table");
  return t;
}

}  // namespace mpq::hw
