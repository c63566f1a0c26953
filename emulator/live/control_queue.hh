// The way into the packet loop for another thread (the control API): commands queued under a
// mutex, an eventfd the loop watches (Runtime::add_source), and a promise per command that the
// loop keeps. The loop never waits for the thread that asked; that thread waits on a future.
#pragma once

#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

#include "live/runtime_snapshot.hh"
#include "profile/profile.hh"
#include "sys/file_descriptor.hh"

namespace badlink {

// What the loop hands back for a view: the running profile, its counters, and the generation
// (how many changes -- API or SIGHUP -- have been committed since start).
struct LoopView {
  Profile profile;
  RuntimeSnapshot snapshot;
  uint64_t generation = 0;
};

// An apply whose expected generation has gone by (a SIGHUP reload came first).
class GenerationConflict : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A profile the run cannot take as it is (a link's interface is not --wan's, ...): bad input.
class ProfileRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A profile whose preparation failed (a new link, where queues are bound at start; iptables):
// what runs is unchanged.
class ApplyFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A command the loop's state refuses now (pausing a paused timeline, a timeline where no link
// has a schedule): a conflict with what runs, not bad input.
class CommandRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The loop has stopped: nothing more will be answered.
class ControlClosed : public std::runtime_error {
 public:
  ControlClosed() : std::runtime_error("badlink is stopping") {}
};

struct ViewCommand {
  std::promise<LoopView> reply;
};

// A whole profile to make the running one (prepare, then commit, as SIGHUP does). The reply is
// the new generation, given once it is committed; or what prepare threw.
struct ApplyCommand {
  Profile profile;
  std::optional<uint64_t> expected_generation;
  std::string who;  // for the log: the peer's uid or address
  std::promise<uint64_t> reply;
};

// An outage of one link from now on, for its duration (ends by itself). The reply is given once
// it has begun; std::out_of_range when there is no such link.
struct OutageCommand {
  std::string link;
  OutageStep outage;
  std::string who;
  std::promise<void> reply;
};

enum class TimelineAction { restart, pause, resume };

// The schedules' timeline restarted, paused or resumed (Runtime::restart_timeline, ...). The
// reply is given once it is done; CommandRefused when the timeline cannot (no schedule,
// paused or running already).
struct TimelineCommand {
  TimelineAction action = TimelineAction::restart;
  std::string who;
  std::promise<void> reply;
};

using ControlCommand = std::variant<ViewCommand, ApplyCommand, OutageCommand, TimelineCommand>;

class ControlQueue {
 public:
  ControlQueue();  // throws SystemError (eventfd)
  ~ControlQueue();
  ControlQueue(const ControlQueue&) = delete;
  ControlQueue& operator=(const ControlQueue&) = delete;

  // For the loop's epoll set.
  int fd() const { return event_.fd(); }

  // Any thread.
  std::future<LoopView> view();
  std::future<uint64_t> apply(Profile profile, std::optional<uint64_t> expected_generation,
                              std::string who);
  std::future<void> outage(std::string link, OutageStep outage, std::string who);
  std::future<void> timeline(TimelineAction action, std::string who);

  // The loop: everything queued so far (the eventfd is read).
  std::deque<ControlCommand> take();
  // The loop's end: what is queued and whatever comes later fails with ControlClosed.
  void close() noexcept;

 private:
  void push(ControlCommand command);

  FileDescriptor event_;
  std::mutex mutex_;
  std::deque<ControlCommand> queue_;
  bool closed_ = false;
};

// Fails a command's promise with `error`.
void fail(ControlCommand& command, std::exception_ptr error) noexcept;

}  // namespace badlink
