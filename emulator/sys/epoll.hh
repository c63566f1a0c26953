// Epoll: one epoll instance and the events it last reported.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "core/time.hh"
#include "sys/file_descriptor.hh"

namespace badlink {

class Epoll {
 public:
  Epoll();

  // Watches `fd` for `events` (EPOLLIN, ...); `tag` comes back with each of its events.
  void add(int fd, uint32_t events, uint64_t tag);
  void remove(int fd);

  // Waits up to `timeout_ms` (-1: forever, 0: poll) and returns what is ready; an interrupted
  // wait returns nothing. The span is valid until the next wait().
  std::span<const epoll_event> wait(int timeout_ms);

  // The same with a nanosecond timeout (epoll_pwait2: an hrtimer with the thread's timer
  // slack, no timerfd to arm and read); nullopt waits forever.
  std::span<const epoll_event> wait(std::optional<Duration> timeout);

  int fd() const { return fd_.fd(); }

 private:
  FileDescriptor fd_;
  std::array<epoll_event, 16> events_{};
};

}  // namespace badlink
