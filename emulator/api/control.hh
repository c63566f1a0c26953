// What the control API's routes may ask of a running badlink: a view of the loop and changes
// to its profile. LoopControl implements it over the loop's ControlQueue; tests may fake it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/packet.hh"
#include "live/control_queue.hh"
#include "profile/profile.hh"

namespace badlink::api {

// One direction key of a PATCH: a TOML value to set, or nullopt to go back to the profile's.
struct KeyChange {
  Direction direction = Direction::outbound;
  std::string key;
  std::optional<std::string> toml_value;
};

class Control {
 public:
  virtual ~Control() = default;

  // The running profile, its counters and generation. Throws ControlClosed.
  virtual LoopView view() = 0;
  // The profile loaded from a file, a PUT or at start, before the PATCHes on top of it.
  virtual Profile loaded() = 0;
  // Each returns once the change is committed (it applies to packets arriving after), or
  // throws: ProfileError (invalid), ProfileRefused, ApplyFailed, ControlClosed,
  // std::out_of_range (no such link).
  virtual void put(Profile next, const std::string& who) = 0;
  // Every change, of either direction, in one commit.
  virtual void patch(const std::string& link, const std::vector<KeyChange>& changes,
                     const std::string& who) = 0;
  // Back to the profile loaded at start.
  virtual void reset(const std::string& who) = 0;
  // An outage of `link` from now for its duration; returns once it has begun. Throws
  // std::out_of_range (no such link), ControlClosed.
  virtual void outage(const std::string& link, const OutageStep& outage,
                      const std::string& who) = 0;
  // The schedules' timeline restarted from 0, paused or resumed; returns once done. Throws
  // CommandRefused (no link has a schedule; paused or running already), ControlClosed.
  virtual void timeline(TimelineAction action, const std::string& who) = 0;
};

}  // namespace badlink::api
