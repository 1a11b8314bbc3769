#pragma once
// One run per results directory: a second mpq run on the same directory would interleave
// journals and overwrite reports. The lock is an flock on DIR/.mpq.lock, so the kernel releases
// it when its holder exits, however it exits; the file keeps the holder's pid for the message.
#include <string>

#include "result.hpp"

namespace mpq {

class OutputLock {
 public:
  // Creates `dir` if needed and locks it; an error names the run that holds it.
  static Result<OutputLock> acquire(const std::string& dir);

  OutputLock(OutputLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  OutputLock& operator=(OutputLock&& other) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();

 private:
  explicit OutputLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace mpq
