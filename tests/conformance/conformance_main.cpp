// Runs every ONNX backend test case from Debian's libonnx-testdata whose ops mpq supports and
// compares with the stored outputs. The list is discovered from the installed data.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <algorithm>
#include <string>
#include <vector>

#include "conformance.hpp"

namespace fs = std::filesystem;
using mpq::conformance::Outcome;

int main(int argc, char** argv) {
  std::string root = "/usr/share/libonnx-testdata/data";
  if (const char* env = std::getenv("MPQ_ONNX_TESTDATA")) root = env;
  std::string filter = ".*", report;
  bool verbose = false;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    if (a == "--filter" && k + 1 < argc) filter = argv[++k];
    else if (a == "--root" && k + 1 < argc) root = argv[++k];
    else if (a == "--report" && k + 1 < argc) report = argv[++k];
    else if (a == "--verbose" || a == "-v") verbose = true;
    else {
      std::cout << "usage: mpq_conformance [--root DIR] [--filter REGEX] [--report FILE.md] "
                   "[--verbose]\n"
                   "Runs ONNX backend test cases (node, pytorch-converted, pytorch-operator) "
                   "whose ops mpq supports.\n";
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  const std::vector<std::string> suites = {"node", "pytorch-converted", "pytorch-operator"};
  const std::regex re(filter);
  std::map<std::string, std::map<Outcome, int>> counts;
  std::vector<std::string> failures, rejections;
  bool any_suite = false;
  for (const auto& suite : suites) {
    const fs::path dir = fs::path(root) / suite;
    if (!fs::is_directory(dir)) continue;
    any_suite = true;
    std::vector<fs::path> cases;
    for (const auto& e : fs::directory_iterator(dir))
      if (fs::exists(e.path() / "model.onnx") && std::regex_search(e.path().filename().string(), re))
        cases.push_back(e.path());
    std::sort(cases.begin(), cases.end());
    for (const auto& c : cases) {
      const auto r = mpq::conformance::run_case(c.string(), {});
      ++counts[suite][r.outcome];
      const std::string name = suite + "/" + c.filename().string();
      if (r.outcome == Outcome::Fail) failures.push_back(name + ": " + r.detail);
      if (r.outcome == Outcome::Rejected) rejections.push_back(name + ": " + r.detail);
      if (verbose) {
        static const char* names[] = {"PASS", "FAIL", "REJECTED", "SKIPPED"};
        std::cout << names[static_cast<int>(r.outcome)] << ' ' << name
                  << (r.detail.empty() ? "" : "  -- " + r.detail) << '\n';
      }
    }
  }
  if (!any_suite) {
    std::cerr << "no ONNX test data under " << root
              << " (install Debian's libonnx-testdata or set MPQ_ONNX_TESTDATA)\n";
    return 2;
  }
  for (const auto& f : failures) std::cout << "FAIL " << f << '\n';
  int pass = 0, fail = 0, rej = 0, skip = 0;
  std::ostringstream table;
  table << "| suite | passed | failed | rejected with a clear error | skipped (unsupported ops) |\n"
        << "|---|---|---|---|---|\n";
  for (auto& [suite, c] : counts) {
    table << "| " << suite << " | " << c[Outcome::Pass] << " | " << c[Outcome::Fail] << " | "
          << c[Outcome::Rejected] << " | " << c[Outcome::Skipped] << " |\n";
    pass += c[Outcome::Pass];
    fail += c[Outcome::Fail];
    rej += c[Outcome::Rejected];
    skip += c[Outcome::Skipped];
  }
  std::cout << table.str();
  if (!report.empty()) {
    std::ofstream out(report + ".tmp");
    out << table.str() << "\nRejected cases (attribute values or types mpq does not support):\n\n";
    for (const auto& r : rejections) out << "- " << r.substr(0, r.find('\n')) << '\n';
    out.close();
    fs::rename(report + ".tmp", report);
  }
  std::cout << "conformance: " << pass << " passed, " << fail << " failed, " << rej
            << " rejected, " << skip << " skipped, of " << (pass + fail + rej) << " runnable\n";
  std::cout << pass << " passed, " << fail << " failed\n";
  return fail == 0 ? 0 : 1;
}
