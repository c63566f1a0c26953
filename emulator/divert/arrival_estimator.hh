// ArrivalEstimator: when a packet that carries no kernel arrival stamp (a local sender's, queued
// at OUTPUT) really arrived, if it is the first read after the loop slept. Never before the
// loop last saw the queue empty, never after it read the packet; within that:
// - epoll reported the queue: the packet woke the loop, one wake-up ago; taken off is the
//   10th percentile of the wake-ups the WakeCalibrator measured on this machine — a slower
//   wake-up leaves the packet a little late, as before any correction, and only the quickest
//   tenth can make it leave early, by the few microseconds they are quicker;
// - the departure timeout ended the sleep and epoll reported nothing: the packet came after
//   the timer's expiry (epoll reports what was queued before its wake-up ran), and before the
//   loop read it, which may be after it sent the departures that woke it; the middle of that,
//   but never more than the wake-up above back (a host stall or the departures can make that
//   span long, and the packet may have come at its end).
// A packet read while the loop was awake anyway is stamped when read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/time.hh"

namespace badlink {

class ArrivalEstimator {
 public:
  static constexpr size_t kWindow = 256;     // recent samples the percentile is taken over
  static constexpr size_t kPercent = 10;     // the percentile taken off
  static constexpr size_t kMinSamples = 16;  // no correction before this many
  static constexpr size_t kEvery = 16;       // recomputed every this many samples

  // One measured wake-up (poke to running). Negative samples are ignored.
  void sample(Duration wake);

  // The wake-up taken off: the kPercent-th percentile of the last kWindow samples, 0 before
  // kMinSamples.
  Duration wake_cost() const { return wake_cost_; }
  uint64_t samples() const { return samples_; }

  // The first packet read after epoll reported the queue and the loop ran at `woke`, the queue
  // having last been seen empty at `quiet_since`.
  TimePoint after_wake(TimePoint woke, TimePoint quiet_since) const;
  // The first packet read, by `read`, after a timeout that expired at `expired` with no
  // event reported.
  TimePoint after_timer(TimePoint expired, TimePoint read, TimePoint quiet_since) const;

 private:
  std::array<int64_t, kWindow> ring_{};
  uint64_t samples_ = 0;
  Duration wake_cost_{0};
};

}  // namespace badlink
