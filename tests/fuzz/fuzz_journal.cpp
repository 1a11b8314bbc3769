// Fuzz target: the phase-1 journal reader (search/sweep_journal.cpp). The key and the groups are
// fixed; the seed corpus starts with their key line so that task lines are reached.
#include "core/candidate.hpp"
#include "fuzz_file.hpp"
#include "search/sweep_journal.hpp"

namespace {

mpq::SweepKey fuzz_key() {
  return {{{"model", "m0"}, {"candidates", "c0"}}};
}

std::vector<mpq::SweepGroup> fuzz_groups() {
  std::vector<mpq::SweepGroup> groups(2);
  groups[0] = {"conv1", "conv1@aa", {0, 1}, *mpq::parse_candidate("W8A8"), {}};
  groups[1] = {"fc", "fc@bb", {2}, *mpq::parse_candidate("W8A8"), {}};
  for (auto& g : groups)
    for (const char* c : {"W4A8", "W2A8", "Wfp16Afp16"})
      g.candidates.push_back(*mpq::parse_candidate(c));
  return groups;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static mpq::fuzz::FuzzFile file("phase1.journal");
  static const bool limited = (mpq::fuzz::limit_memory(), true);
  static const mpq::SweepKey key = fuzz_key();
  static const std::vector<mpq::SweepGroup> groups = fuzz_groups();
  (void)limited;
  (void)mpq::load_journal(file.write(data, size), key, groups);
  return 0;
}
