#include "progress_meter.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace mpq {
namespace {

std::string clock_text(double secs) {
  if (!(secs >= 0) || secs > 360000) return "--:--";
  const long long s = std::llround(secs);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%02lld:%02lld", s / 60, s % 60);
  return buf;
}

}  // namespace

ProgressMeter::ProgressMeter(std::string what, std::int64_t total, bool enabled)
    : what_(std::move(what)),
      total_(total),
      enabled_(enabled),
      tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_print_(start_) {}

void ProgressMeter::update(std::int64_t done) {
  if (!enabled_ || done == last_done_) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  // Plain output: a line at most every 5 s, and the last one.
  if (!tty_ && since < 5.0 && done < total_) return;
  last_done_ = done;
  last_print_ = now;
  const std::int64_t fresh = done - already_;
  const double rate = elapsed > 0 ? static_cast<double>(fresh) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : -1.0;
  const double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  if (tty_) {
    constexpr int kWidth = 30;
    std::string bar(kWidth, ' ');
    for (int k = 0; k < static_cast<int>(frac * kWidth); ++k)
      bar[static_cast<std::size_t>(k)] = '#';
    std::fprintf(stderr, "\r%s [%s] %lld/%lld  %.2f/s  ETA %s ", what_.c_str(), bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), rate,
                 clock_text(eta).c_str());
  } else {
    std::fprintf(stderr, "%s: %lld/%lld done (%.0f%%), %.2f/s, ETA %s\n", what_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), 100.0 * frac, rate,
                 clock_text(eta).c_str());
  }
  std::fflush(stderr);
}

void ProgressMeter::finish() {
  if (enabled_ && tty_) std::fprintf(stderr, "\n");
}

}  // namespace mpq
