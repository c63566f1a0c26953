// SIGINT, SIGTERM and SIGHUP as an exception (Interrupted) at the points a long task chooses to
// look, so that a Ctrl-C unwinds it and every destructor removes what it made.
#pragma once

#include <chrono>
#include <stdexcept>

#include "sys/signal_fd.hh"

namespace badlink {

// What Interrupt throws: "interrupted by <the signal's description>".
class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal);
  int signal() const { return signal_; }

 private:
  int signal_;
};

class Interrupt {
 public:
  // Blocks the three signals in the calling thread: make it before any other thread starts
  // (threads inherit the mask), and they stay blocked after it is gone (see SignalFd).
  Interrupt();

  // Waits up to `timeout` for one of the signals; throws Interrupted when one came.
  void wait(std::chrono::milliseconds timeout);
  // Throws Interrupted when one of the signals is pending; never blocks.
  void check();

  int fd() const { return signals_.fd(); }

 private:
  SignalFd signals_;
};

}  // namespace badlink
