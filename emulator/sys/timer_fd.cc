// TimerFd over timerfd_create/timerfd_settime; set_timer_slack over prctl.
#include "sys/timer_fd.hh"

#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "sys/system_error.hh"

namespace badlink {

namespace {

timespec to_timespec(int64_t ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return ts;
}

}  // namespace

TimerFd::TimerFd()
    : fd_(SystemCall("timerfd_create(CLOCK_MONOTONIC)",
                     ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC))) {}

void TimerFd::arm_at(TimePoint when) {
  itimerspec spec{};
  // 0 would disarm: a time at or before the epoch is simply "now".
  spec.it_value = to_timespec(std::max<int64_t>(to_nanos(when), 1));
  SystemCall("timerfd_settime(ABSTIME)",
             ::timerfd_settime(fd_.fd(), TFD_TIMER_ABSTIME, &spec, nullptr));
}

void TimerFd::arm_periodic(Duration period) {
  itimerspec spec{};
  spec.it_value = to_timespec(std::max<int64_t>(period.count(), 1));
  spec.it_interval = spec.it_value;
  SystemCall("timerfd_settime(periodic)", ::timerfd_settime(fd_.fd(), 0, &spec, nullptr));
}

void TimerFd::disarm() {
  const itimerspec spec{};
  SystemCall("timerfd_settime(disarm)", ::timerfd_settime(fd_.fd(), 0, &spec, nullptr));
}

uint64_t TimerFd::acknowledge() {
  uint64_t expirations = 0;
  const ssize_t n = retry_eintr([&] { return ::read(fd_.fd(), &expirations, sizeof expirations); });
  if (n < 0) {
    if (errno == EAGAIN) {
      return 0;
    }
    throw SystemError("read(timerfd)", errno);
  }
  return expirations;
}

void set_timer_slack(Duration slack) {
  SystemCall("prctl(PR_SET_TIMERSLACK)",
             ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(slack.count()), 0, 0, 0));
}

}  // namespace badlink
