// Runs every ONNX backend test case from Debian's libonnx-testdata whose ops mpq supports and
// compares with the stored outputs. The list is discovered from the installed data.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "conformance.hpp"
#include "core/guarded_main.hpp"

namespace fs = std::filesystem;
using mpq::conformance::CaseResult;
using mpq::conformance::Outcome;

namespace {

// Each case runs in a child process, so that a crash in a kernel is reported as a failure of
// that case instead of ending the whole run.
CaseResult run_isolated(const std::string& dir) {
  int fds[2];
  if (pipe(fds) != 0) return mpq::conformance::run_case(dir, {});
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    CaseResult r;
    try {
      r = mpq::conformance::run_case(dir, {});
    } catch (const std::exception& e) {
      r = {Outcome::Fail, std::string("exception: ") + e.what()};
    }
    const std::string msg = std::to_string(static_cast<int>(r.outcome)) + "\n" + r.detail;
    if (write(fds[1], msg.data(), msg.size()) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[4096];
  ssize_t n = 0;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status))
    return {Outcome::Fail, "crashed with signal " + std::to_string(WTERMSIG(status))};
  const auto nl = msg.find('\n');
  if (nl == std::string::npos) return {Outcome::Fail, "no result from the test process"};
  return {static_cast<Outcome>(std::stoi(msg.substr(0, nl))), msg.substr(nl + 1)};
}

}  // namespace

static int run(int argc, char** argv) {
  std::string root = "/usr/share/libonnx-testdata/data";
  if (const char* env = std::getenv("MPQ_ONNX_TESTDATA")) root = env;
  std::string filter = ".*", report;
  bool verbose = false;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    if (a == "--filter" && k + 1 < argc)
      filter = argv[++k];
    else if (a == "--root" && k + 1 < argc)
      root = argv[++k];
    else if (a == "--report" && k + 1 < argc)
      report = argv[++k];
    else if (a == "--verbose" || a == "-v")
      verbose = true;
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
      if (fs::exists(e.path() / "model.onnx") &&
          std::regex_search(e.path().filename().string(), re))
        cases.push_back(e.path());
    std::sort(cases.begin(), cases.end());
    for (const auto& c : cases) {
      const auto r = run_isolated(c.string());
      ++counts[suite][r.outcome];
      const std::string name = suite + "/" + c.filename().string();
      if (r.outcome == Outcome::Fail) failures.push_back(name + ": " + r.detail);
      if (r.outcome == Outcome::Rejected) rejections.push_back(name + ": " + r.detail);
      if (verbose) {
        static const char* names[] = {"PASS", "FAIL", "REJECTED", "SKIPPED"};
        std::cout << names[static_cast<int>(r.outcome)] << ' ' << name
                  << (r.detail.empty() ? "" : "  -- " + r.detail) << std::endl;
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
    for (std::string r : rejections) {
      std::replace(r.begin(), r.end(), '\n', ' ');
      out << "- " << r << '\n';
    }
    out.close();
    fs::rename(report + ".tmp", report);
  }
  std::cout << "conformance: " << pass << " passed, " << fail << " failed, " << rej << " rejected, "
            << skip << " skipped, of " << (pass + fail + rej) << " runnable\n";
  std::cout << pass << " passed, " << fail << " failed\n";
  return fail == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  return mpq::guarded_main("mpq_conformance", [&] { return run(argc, argv); });
}
