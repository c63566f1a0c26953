// Time types shared by every layer: nanosecond durations on a monotonic time line.
#pragma once

#include <chrono>
#include <cstdint>

namespace badlink {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

constexpr TimePoint from_nanos(int64_t ns) { return TimePoint{Duration{ns}}; }
constexpr int64_t to_nanos(TimePoint t) { return t.time_since_epoch().count(); }

}  // namespace badlink
