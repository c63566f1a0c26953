// TimerFd: a CLOCK_MONOTONIC timerfd armed at absolute times, so the wheel wakes the loop
// through epoll with the clock the engine uses.
#pragma once

#include <cstdint>

#include "core/time.hh"
#include "sys/file_descriptor.hh"

namespace badlink {

class TimerFd {
 public:
  TimerFd();

  // Fires once at `when` (CLOCK_MONOTONIC); a time already past fires at once.
  void arm_at(TimePoint when);
  // Fires every `period`, first after one period.
  void arm_periodic(Duration period);
  void disarm();

  // Reads the expiration count (0 when it has not fired); never blocks.
  uint64_t acknowledge();

  int fd() const { return fd_.fd(); }

 private:
  FileDescriptor fd_;
};

// Asks the kernel for timer slack of `slack` (prctl PR_SET_TIMERSLACK), so timer wake-ups are
// not coalesced 50 µs late, the default.
void set_timer_slack(Duration slack);

}  // namespace badlink
