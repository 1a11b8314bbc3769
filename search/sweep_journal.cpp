#include "sweep_journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "core/atomic_file.hpp"
#include "core/json_number.hpp"
#include "sim/quant_metrics_json.hpp"
namespace mpq {
namespace {

using nlohmann::json;

json key_line(const SweepKey& key) {
  return {{"mpq_phase1_journal", kJournalVersion}, {"inputs", key.parts}};
}

json task_line(const TaskResult& r, const std::vector<SweepGroup>& groups) {
  json j = {{"group", groups[r.group].id},
            {"candidate", r.candidate.name()},
            {"metrics", metrics_to_json(r.metrics)},
            {"eagl", number_to_json(r.eagl)}};
  if (!std::isnan(r.fisher)) j["fisher"] = number_to_json(r.fisher);
  return j;
}

Status write_all(int fd, const std::string& text, const std::string& path) {
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0) return make_error("cannot write the journal '" + path + "'");
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return make_error("cannot flush the journal '" + path + "' to disk");
  return Ok{};
}

}  // namespace

Result<LoadedJournal> load_journal(const std::string& path, const SweepKey& key,
                                   const std::vector<SweepGroup>& groups) {
  LoadedJournal out;
  std::ifstream in(path);
  if (!in) return out;  // no journal yet
  std::string line;
  if (!std::getline(in, line)) return out;
  json head;
  try {
    head = json::parse(line);
  } catch (const json::exception&) {
    return make_error(path +
                      " is not an mpq phase-1 journal (its first line is not JSON); "
                      "remove it or choose another output directory");
  }
  if (!head.is_object() || !head.contains("mpq_phase1_journal"))
    return make_error(path +
                      " is not an mpq phase-1 journal; remove it or choose another "
                      "output directory");
  if (head["mpq_phase1_journal"] != kJournalVersion)
    return make_error(path + " was written by an incompatible mpq (journal version " +
                      head["mpq_phase1_journal"].dump() + ", this mpq reads version " +
                      std::to_string(kJournalVersion) +
                      "); nothing was changed: remove it or choose another output directory");
  const auto old = head.value("inputs", std::map<std::string, std::string>{});
  if (old != key.parts) {
    std::string changed;
    for (const auto& [part, hash] : key.parts) {
      auto it = old.find(part);
      if (it == old.end() || it->second != hash) changed += (changed.empty() ? "" : ", ") + part;
    }
    in.close();
    std::error_code ec;
    std::filesystem::rename(path, path + ".stale", ec);
    out.notice = "the cached phase-1 results in " + path + " were made from other inputs (" +
                 (changed.empty() ? std::string("settings") : changed) +
                 " changed); starting afresh (the old journal is kept as " + path + ".stale)";
    return out;
  }
  std::map<std::string, std::size_t> group_index;
  for (std::size_t g = 0; g < groups.size(); ++g) group_index[groups[g].id] = g;
  TaskKeys seen;
  while (std::getline(in, line)) {
    // A line cut short by a crash is simply not there: that task runs again. Lines of groups
    // this run does not have (another accelerator's grouping) are kept out of this run only.
    try {
      const json j = json::parse(line);
      auto g = group_index.find(j.at("group").get<std::string>());
      if (g == group_index.end()) {
        out.other_lines.push_back(line);
        continue;
      }
      TaskResult r;
      r.group = g->second;
      // Read back by name (older journals spell float candidates "fp16": the same candidate).
      auto candidate = parse_candidate(j.at("candidate").get<std::string>());
      if (!candidate) continue;
      r.candidate = *candidate;
      r.metrics = metrics_from_json(j.at("metrics"));
      r.eagl = number_from_json(j.at("eagl"));
      if (j.contains("fisher")) r.fisher = number_from_json(j.at("fisher"));
      if (seen.insert({r.group, r.candidate}).second) out.results.push_back(std::move(r));
    } catch (const std::exception&) {
      continue;
    }
  }
  return out;
}

Result<JournalWriter> JournalWriter::start(const std::string& path, const SweepKey& key,
                                           const LoadedJournal& kept,
                                           const std::vector<SweepGroup>& groups) {
  std::string text = key_line(key).dump() + "\n";
  for (const auto& l : kept.other_lines) text += l + "\n";
  for (const auto& r : kept.results) text += task_line(r, groups).dump() + "\n";
  // Whole or not at all, and no temporary left behind on failure (e.g. `path` is a directory).
  if (auto st = write_file_atomically(path, text); !st)
    return make_error("cannot create the journal: " + st.error().message);
  JournalWriter w;
  w.path_ = path;
  w.fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND);
  if (w.fd_ < 0) return make_error("cannot open the journal '" + path + "' for appending");
  return w;
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status JournalWriter::append(const TaskResult& r, const std::vector<SweepGroup>& groups) {
  return write_all(fd_, task_line(r, groups).dump() + "\n", path_);
}

}  // namespace mpq
