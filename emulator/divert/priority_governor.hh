// PriorityGovernor: when the packet loop should ask the scheduler for a high weight. A loop
// that times departures to the microsecond needs to win its CPU the moment a departure is due;
// a loop that reads a flood does not, and at a high weight it takes the CPU from the very
// sender and receiver it serves (on a small machine the three share two CPUs). So the loop is
// raised while it carries light traffic with departures to time, and lowered while it reads
// more than `flood_pps` packets a second or has nothing to time -- but only as long as its
// departures stay on time: one handed back more than `late_limit` after its time while lowered
// raises it again at once, and it tries yielding again only after `hold` (doubled each time
// that fails, up to `longest_hold`). Pure: the caller applies the nice value it is told and
// supplies the clock.
#pragma once

#include <cstdint>
#include <optional>

#include "core/time.hh"

namespace badlink {

struct PriorityPolicy {
  int raised_nice = -20;  // while departures need timing and the traffic is light
  int lowered_nice = 0;   // while reading a flood, or with nothing to time
  // Packets read per second from which the loop counts as reading a flood (0: never lowered
  // for a flood). It is raised again after a window below half of it.
  uint64_t flood_pps = 20000;
  Duration window = std::chrono::milliseconds(50);
  Duration late_limit = std::chrono::milliseconds(1);
  Duration hold = std::chrono::seconds(1);
  Duration longest_hold = std::chrono::seconds(30);
};

class PriorityGovernor {
 public:
  explicit PriorityGovernor(const PriorityPolicy& policy);

  // Whether any direction has departures to time (a profile that changes nothing has none).
  // Returns the nice value to apply when it changes.
  std::optional<int> set_timing_needed(bool needed);
  // `packets` were read at `now` (0 is fine: it closes windows that ran out), and the latest of
  // the departures handed back since the last call was `late` after its time. Returns the nice
  // value to apply when it changes.
  std::optional<int> observe(TimePoint now, uint64_t packets, Duration late = Duration{0});

  int nice() const { return raised() ? policy_.raised_nice : policy_.lowered_nice; }
  bool flooded() const { return flooded_; }
  uint64_t floods() const { return floods_; }            // times the loop was lowered for a flood
  uint64_t late_raises() const { return late_raises_; }  // yields ended by a late departure

 private:
  bool raised() const { return timing_needed_ && !flooded_; }
  std::optional<int> changed(bool was_raised) const;

  PriorityPolicy policy_;
  bool timing_needed_ = true;
  bool flooded_ = false;
  uint64_t floods_ = 0;
  uint64_t late_raises_ = 0;
  Duration hold_{};         // the current wait before yielding again after a late departure
  TimePoint held_until_{};  // no yielding for a flood before then
  bool started_ = false;
  TimePoint window_start_{};
  uint64_t window_packets_ = 0;
};

}  // namespace badlink
