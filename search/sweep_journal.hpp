#pragma once
// The phase-1 journal: every finished task is appended (and flushed to disk) as one JSON line,
// so an interrupted sweep (Ctrl-C, kill -9, power loss) resumes where it stopped. The first
// line names what the results depend on; a journal made from other inputs is set aside with a
// message saying which input changed.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "sensitivity_sweep.hpp"

namespace mpq {

inline constexpr int kJournalVersion = 1;

// What the results depend on, each as a content hash.
struct SweepKey {
  std::map<std::string, std::string> parts;  // "model", "calibration data", "quantizer placement",
                                             // "candidates", "metric settings"
};

struct LoadedJournal {
  std::vector<TaskResult> results;       // in file order
  std::vector<std::string> other_lines;  // results of groups this run does not have: kept
  std::string notice;                    // why an old journal was set aside; "" otherwise
};

// Reads `path` if it exists. Errors: a journal of another format version (nothing is touched).
// A journal with another key is renamed to `path`.stale and reported in `notice`.
Result<LoadedJournal> load_journal(const std::string& path, const SweepKey& key,
                                   const std::vector<SweepGroup>& groups);

class JournalWriter {
 public:
  // Writes the key line and `kept` (the valid lines of a loaded journal) to a new file that
  // replaces `path` atomically, then keeps it open for appending.
  static Result<JournalWriter> start(const std::string& path, const SweepKey& key,
                                     const LoadedJournal& kept,
                                     const std::vector<SweepGroup>& groups);
  JournalWriter(JournalWriter&& o) noexcept : path_(std::move(o.path_)), fd_(o.fd_) { o.fd_ = -1; }
  JournalWriter& operator=(JournalWriter&&) = delete;
  ~JournalWriter();
  // One line, written and fsync'ed before returning.
  Status append(const TaskResult& r, const std::vector<SweepGroup>& groups);

 private:
  JournalWriter() = default;
  std::string path_;
  int fd_ = -1;
};

}  // namespace mpq
