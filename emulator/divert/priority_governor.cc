// The window arithmetic of PriorityGovernor.
#include "divert/priority_governor.hh"

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

std::optional<int> PriorityGovernor::observe(TimePoint now, uint64_t packets) {
  if (!started_) {
    started_ = true;
    window_start_ = now;
  }
  window_packets_ += packets;
  const Duration elapsed = now - window_start_;
  if (policy_.flood_pps == 0 || elapsed < policy_.window) {
    return std::nullopt;
  }
  const bool was = raised();
  const double rate =
      static_cast<double>(window_packets_) * 1e9 / static_cast<double>(elapsed.count());
  const auto flood = static_cast<double>(policy_.flood_pps);
  if (!flooded_ && rate >= flood) {
    flooded_ = true;
    ++floods_;
  } else if (flooded_ && 2 * rate < flood) {
    flooded_ = false;
  }
  window_start_ = now;
  window_packets_ = 0;
  return changed(was);
}

}  // namespace badlink
