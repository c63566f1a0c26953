// The packet loop's side of the ControlQueue: answers views at once from the runtime, and
// applies profiles one at a time through Runtime::prepare_in_background -- the runtime's one
// preparation, which a SIGHUP reload shares -- answering each once it is committed.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>

#include "live/control_queue.hh"
#include "live/runtime.hh"

namespace badlink {

class Controller {
 public:
  // Checks what the run demands of a profile beyond its validity (throws: refused).
  using ProfileCheck = std::function<void(const Profile&)>;

  // Watches `queue` through `runtime`'s loop. Both must outlive the controller.
  Controller(Runtime& runtime, ControlQueue& queue, ProfileCheck check);
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // A Kind::source event: true when it was the controller's (its queue, or the runtime's
  // preparation that it started), handled then.
  bool handle(const LiveEvent& event);
  // Whether the runtime's preparation in progress is the controller's.
  bool preparing() const { return applying_.has_value(); }
  // A change not the controller's (SIGHUP) was committed: the generation moves on.
  void reloaded() { ++generation_; }
  // The runtime's preparation is free again: starts the next apply that waits, if any.
  void resume();
  uint64_t generation() const { return generation_; }
  // The loop's end: everything waiting and everything that comes later fails (ControlClosed).
  void close() noexcept;

 private:
  void take_commands();
  // Restarts, pauses or resumes the runtime's timeline and answers (a refusal: CommandRefused).
  void move_timeline(TimelineCommand& command);
  void finish_apply();

  Runtime& runtime_;
  ControlQueue& queue_;
  ProfileCheck check_;
  size_t source_;
  std::deque<ApplyCommand> waiting_;
  std::optional<ApplyCommand> applying_;  // its profile is in the runtime's preparation
  uint64_t generation_ = 0;
};

}  // namespace badlink
