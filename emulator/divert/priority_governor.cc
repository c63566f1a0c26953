// The window arithmetic of PriorityGovernor.
#include "divert/priority_governor.hh"

#include <algorithm>

namespace badlink {

PriorityGovernor::PriorityGovernor(const PriorityPolicy& policy) : policy_(policy) {}

std::optional<int> PriorityGovernor::changed(bool was_raised) const {
  if (was_raised == raised() || policy_.raised_nice == policy_.lowered_nice) {
    return std::nullopt;
  }
  return nice();
}

std::optional<int> PriorityGovernor::set_timing_needed(bool needed) {
  const bool was = raised();
  timing_needed_ = needed;
  return changed(was);
}

std::optional<int> PriorityGovernor::observe(TimePoint now, uint64_t packets, Duration late) {
  if (!started_) {
    started_ = true;
    window_start_ = now;
    hold_ = policy_.hold;
  }
  const bool was = raised();
  if (flooded_ && late > policy_.late_limit) {
    // Yielding cost the departures their time: they come first. Try again later, and later
    // still each time it fails.
    flooded_ = false;
    ++late_raises_;
    held_until_ = now + hold_;
    hold_ = std::min(2 * hold_, policy_.longest_hold);
    window_start_ = now;
    window_packets_ = 0;
    return changed(was);
  }
  window_packets_ += packets;
  const Duration elapsed = now - window_start_;
  if (policy_.flood_pps == 0 || elapsed < policy_.window) {
    return std::nullopt;
  }
  const double rate =
      static_cast<double>(window_packets_) * 1e9 / static_cast<double>(elapsed.count());
  const auto flood = static_cast<double>(policy_.flood_pps);
  if (!flooded_ && rate >= flood && now >= held_until_) {
    flooded_ = true;
    ++floods_;
  } else if (flooded_ && 2 * rate < flood) {
    flooded_ = false;
    hold_ = policy_.hold;  // a flood it yielded to without harm: the next may be yielded to at once
  }
  window_start_ = now;
  window_packets_ = 0;
  return changed(was);
}

}  // namespace badlink
