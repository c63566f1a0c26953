// Epoll: epoll_create1/epoll_ctl/epoll_wait with errors as SystemError.
#include "sys/epoll.hh"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "sys/system_error.hh"

namespace badlink {

Epoll::Epoll() : fd_(SystemCall("epoll_create1", ::epoll_create1(EPOLL_CLOEXEC))) {}

void Epoll::add(int fd, uint32_t events, uint64_t tag) {
  epoll_event event{};
  event.events = events;
  event.data.u64 = tag;
  SystemCall("epoll_ctl(ADD, " + std::to_string(fd) + ")",
             ::epoll_ctl(fd_.fd(), EPOLL_CTL_ADD, fd, &event));
}

void Epoll::remove(int fd) {
  SystemCall("epoll_ctl(DEL, " + std::to_string(fd) + ")",
             ::epoll_ctl(fd_.fd(), EPOLL_CTL_DEL, fd, nullptr));
}

std::span<const epoll_event> Epoll::wait(int timeout_ms) {
  const int n =
      ::epoll_wait(fd_.fd(), events_.data(), static_cast<int>(events_.size()), timeout_ms);
  if (n < 0) {
    if (errno == EINTR) {
      return {};  // the caller's loop comes round again: this is its retry
    }
    throw SystemError("epoll_wait", errno);
  }
  return {events_.data(), static_cast<size_t>(n)};
}

std::span<const epoll_event> Epoll::wait(std::optional<Duration> timeout) {
  timespec ts{};
  if (timeout) {
    const int64_t ns = std::max<int64_t>(timeout->count(), 0);
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  }
  const int n = ::epoll_pwait2(fd_.fd(), events_.data(), static_cast<int>(events_.size()),
                               timeout ? &ts : nullptr, nullptr);
  if (n < 0) {
    if (errno == EINTR) {
      return {};
    }
    throw SystemError("epoll_pwait2", errno);
  }
  return {events_.data(), static_cast<size_t>(n)};
}

}  // namespace badlink
