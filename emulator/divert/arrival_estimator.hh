// ArrivalEstimator: when a packet that carries no kernel arrival stamp (a local sender's, queued
// at OUTPUT) really arrived, if it is the first read after the loop slept. Never before the
// loop last saw the queue empty, never after it woke; within that:
// - epoll reported the queue: the packet woke the loop, about one wake-up ago (the median of
//   the wake-up times the WakeCalibrator measured on this machine);
// - the departure timeout ended the sleep and epoll reported nothing: the packet came while
//   the loop was being woken (epoll reports what was queued before its wake-up ran), between
//   the timer's expiry and the loop running; the middle of that.
// A packet read while the loop was awake anyway is stamped when read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/time.hh"

namespace badlink {

class ArrivalEstimator {
 public:
  static constexpr size_t kWindow = 256;     // recent samples the median is taken over
  static constexpr size_t kMinSamples = 16;  // no correction before this many
  static constexpr size_t kEvery = 16;       // the median is recomputed every this many

  // One measured wake-up (poke to running). Negative samples are ignored.
  void sample(Duration wake);

  // The wake-up taken off: the median of the last kWindow samples, 0 before kMinSamples.
  Duration wake_cost() const { return wake_cost_; }
  uint64_t samples() const { return samples_; }

  // The first packet read after epoll reported the queue and the loop ran at `woke`, the queue
  // having last been seen empty at `quiet_since`.
  TimePoint after_wake(TimePoint woke, TimePoint quiet_since) const;
  // The first packet read after a timeout that expired at `expired`, the loop running at
  // `woke`, with no event reported.
  static TimePoint after_timer(TimePoint expired, TimePoint woke, TimePoint quiet_since);

 private:
  std::array<int64_t, kWindow> ring_{};
  uint64_t samples_ = 0;
  Duration wake_cost_{0};
};

}  // namespace badlink
