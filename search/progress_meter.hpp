#pragma once
// Progress of long work on stderr: a bar with done/total, rate and ETA redrawn in place on a
// terminal; plain lines at most every few seconds otherwise (logs, CI).
#include <chrono>
#include <cstdint>
#include <string>

namespace mpq {

class ProgressMeter {
 public:
  ProgressMeter(std::string what, std::int64_t total, bool enabled);
  // `done` counts from 0 to total; `already` of them were done before this run (resumed).
  void update(std::int64_t done);
  void set_already(std::int64_t already) { already_ = already; }
  void finish();

 private:
  std::string what_;
  std::int64_t total_, already_ = 0, last_done_ = -1;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
};

}  // namespace mpq
