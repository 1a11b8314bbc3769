// Fuzz target: the measured-latency CSV reader (hw/measured_latency_table.cpp), against the
// candidates of the bundled edge NPU.
#include "core/candidate.hpp"
#include "fuzz_file.hpp"
#include "hw/measured_latency_table.hpp"

namespace {

std::vector<mpq::Candidate> candidates() {
  std::vector<mpq::Candidate> out;
  for (const char* name : {"W8A8", "W4A8", "W4A4", "Wfp16Afp16", "Wmxfp4Amxfp8_e4m3"})
    out.push_back(*mpq::parse_candidate(name));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool limited = (mpq::fuzz::limit_memory(), true);
  static const std::vector<mpq::Candidate> known = candidates();
  (void)limited;
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)mpq::hw::parse_measured_latencies(text, "fuzz.csv", known);
  return 0;
}
