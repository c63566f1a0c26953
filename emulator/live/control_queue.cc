// ControlQueue: commands from the API's threads to the packet loop; see control_queue.hh.
#include "live/control_queue.hh"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "sys/system_error.hh"

namespace badlink {

void fail(ControlCommand& command, std::exception_ptr error) noexcept {
  try {
    std::visit([&](auto& c) { c.reply.set_exception(error); }, command);
  } catch (const std::future_error&) {
    // answered already
  }
}

ControlQueue::ControlQueue() : event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!event_) {
    throw SystemError("eventfd", errno);
  }
}

ControlQueue::~ControlQueue() { close(); }

void ControlQueue::push(ControlCommand command) {
  {
    const std::lock_guard lock(mutex_);
    if (!closed_) {
      queue_.push_back(std::move(command));
      const uint64_t one = 1;
      [[maybe_unused]] const ssize_t n = ::write(event_.fd(), &one, sizeof one);
      return;
    }
  }
  fail(command, std::make_exception_ptr(ControlClosed()));
}

std::future<LoopView> ControlQueue::view() {
  ViewCommand c;
  std::future<LoopView> f = c.reply.get_future();
  push(std::move(c));
  return f;
}

std::future<uint64_t> ControlQueue::apply(Profile profile,
                                          std::optional<uint64_t> expected_generation,
                                          std::string who) {
  ApplyCommand c{std::move(profile), expected_generation, std::move(who), {}};
  std::future<uint64_t> f = c.reply.get_future();
  push(std::move(c));
  return f;
}

std::future<void> ControlQueue::outage(std::string link, OutageStep outage, std::string who) {
  OutageCommand c{std::move(link), outage, std::move(who), {}};
  std::future<void> f = c.reply.get_future();
  push(std::move(c));
  return f;
}

std::future<void> ControlQueue::timeline(TimelineAction action, std::string who) {
  TimelineCommand c{action, std::move(who), {}};
  std::future<void> f = c.reply.get_future();
  push(std::move(c));
  return f;
}

std::deque<ControlCommand> ControlQueue::take() {
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(event_.fd(), &count, sizeof count);
  const std::lock_guard lock(mutex_);
  return std::exchange(queue_, {});
}

void ControlQueue::close() noexcept {
  std::deque<ControlCommand> left;
  {
    const std::lock_guard lock(mutex_);
    closed_ = true;
    left = std::exchange(queue_, {});
  }
  for (ControlCommand& c : left) {
    fail(c, std::make_exception_ptr(ControlClosed()));
  }
}

}  // namespace badlink
