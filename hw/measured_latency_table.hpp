#pragma once
// Per-layer, per-candidate latencies measured on a device (HAWQ-V3 style), read from a CSV:
//   layer,W8A8,W4A8          <- header: "layer", then declared candidate names
//   conv1,12.5,8.25          <- microseconds; an empty cell means "not measured"
// Lines starting with '#' are comments.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/candidate.hpp"
#include "core/result.hpp"

namespace mpq::hw {

struct MeasuredLatencyTable {
  std::string path;
  std::map<std::string, std::map<int, double>> seconds;  // layer -> candidate index -> s

  std::optional<double> find(const std::string& layer, int candidate) const;
};

Result<MeasuredLatencyTable> load_measured_latencies(const std::string& path,
                                                     const std::vector<Candidate>& candidates);
Result<MeasuredLatencyTable> parse_measured_latencies(const std::string& text,
                                                      const std::string& path,
                                                      const std::vector<Candidate>& candidates);

}  // namespace mpq::hw
