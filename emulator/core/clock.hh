// The one way time enters the engine: a Clock interface, a manual clock for tests and replay,
// and the monotonic clock for live mode.
#pragma once

#include "core/time.hh"

namespace badlink {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// Time moves only when told to; used by tests and by offline replay (capture time is arrival).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{}) : now_(start) {}
  TimePoint now() const override { return now_; }
  void set(TimePoint t) { now_ = t; }
  void advance(Duration d) { now_ += d; }

 private:
  TimePoint now_;
};

// CLOCK_MONOTONIC through std::chrono (nanosecond resolution on Linux).
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};

}  // namespace badlink
