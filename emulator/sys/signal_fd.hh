// SignalFd: signals delivered as readable events instead of handlers, so the loop sees SIGTERM
// like any other input and every destructor runs on the way out.
#pragma once

#include <initializer_list>
#include <optional>

#include "sys/file_descriptor.hh"

namespace badlink {

class SignalFd {
 public:
  // Blocks `signals` in the calling thread (do this before any other thread starts) and opens
  // a signalfd for them. They stay blocked after destruction: unblocking a pending SIGTERM
  // while unwinding would kill the process before its clean-up ran.
  explicit SignalFd(std::initializer_list<int> signals);

  // The next pending signal, or nullopt when none is; never blocks.
  std::optional<int> read();

  int fd() const { return fd_.fd(); }

 private:
  FileDescriptor fd_;
};

}  // namespace badlink
