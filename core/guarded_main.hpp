#pragma once
// main() of every mpq executable (the CLI, benchmarks, test tools): an exception that escapes
// run (a bug, or out of memory) ends with a message and exit code 1, not an abort. core/ is
// the one library all of them link.
#include <exception>
#include <iostream>

namespace mpq {

template <class Run>
int guarded_main(const char* program, Run&& run) {
  try {
    return run();
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace mpq
