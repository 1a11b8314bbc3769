#pragma once
// The results directory of `mpq explore`: fronts as CSV and JSON, the chosen configurations as
// JSON (the simulator's format), the plots (PNG and SVG), report.md with the plots embedded and
// the command that reproduces the run. Every file is written whole or not at all.
#include <string>

#include "explorer.hpp"

namespace mpq {

struct ExploreOutputs {
  std::string dir;
  std::string command;  // the exact command line, for the report
  bool plots = true;
};

Status write_exploration(const Phase1Context& ctx, const Phase1Result& phase1, const Exploration& x,
                         const ExploreOutputs& out);

// The summary printed by `mpq explore --json`.
nlohmann::json exploration_json(const Phase1Context& ctx, const Exploration& x);

}  // namespace mpq
