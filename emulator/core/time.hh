// Time types shared by every layer: nanosecond durations on a monotonic time line.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

namespace badlink {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

constexpr TimePoint from_nanos(int64_t ns) { return TimePoint{Duration{ns}}; }
constexpr int64_t to_nanos(TimePoint t) { return t.time_since_epoch().count(); }

// A timespec (a clock reading, a kernel stamp) in nanoseconds.
constexpr int64_t nanos_of(const timespec& t) {
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

// `clock` (CLOCK_MONOTONIC, CLOCK_REALTIME, ...) now, in nanoseconds.
inline int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return nanos_of(ts);
}

}  // namespace badlink
