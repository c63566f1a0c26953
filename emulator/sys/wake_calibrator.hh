// WakeCalibrator: measures how long this machine takes to wake a thread sleeping in epoll when
// another CPU makes one of its descriptors readable. That is what a packet queued by a local
// sender waits before the loop can read it, and the kernel stamps no arrival time on packets
// queued at OUTPUT; the loop takes the wait off such packets' arrival (ArrivalEstimator).
//
// A helper thread, every `period` (varied ±50 % so that it never locks onto traffic), pokes
// the loop if the loop said it is asleep and has had packets to time since the last round: it
// stamps CLOCK_MONOTONIC and writes an eventfd the loop watches, from a CPU other than the
// loop's. The loop's clock on waking minus that stamp is one sample.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include "core/time.hh"
#include "sys/file_descriptor.hh"

namespace badlink {

class WakeCalibrator {
 public:
  // Starts the helper thread (construct it after signals are blocked: it inherits the mask).
  explicit WakeCalibrator(Duration period);
  ~WakeCalibrator();  // stops and joins the helper at once
  WakeCalibrator(const WakeCalibrator&) = delete;
  WakeCalibrator& operator=(const WakeCalibrator&) = delete;

  int fd() const { return fd_.fd(); }

  // The loop has read packets it must time without a kernel stamp: the helper pokes in its
  // next round (and, without this since its last, waits kIdleSlowdown rounds and does not).
  void wanted() noexcept { wanted_.store(true, std::memory_order_relaxed); }
  // The loop, just before its wait.
  void going_to_sleep() noexcept;
  // The loop, just after it: the helper's stamp (CLOCK_MONOTONIC) if it poked during this
  // sleep. The sample is only good when the poke is what woke the loop (the caller knows).
  std::optional<TimePoint> woke() noexcept;
  // Reads the eventfd (never blocks) when epoll reported it.
  void acknowledge() noexcept;

  uint64_t pokes() const noexcept { return pokes_.load(std::memory_order_relaxed); }

 private:
  void run(std::stop_token stop);

  static constexpr int kIdleSlowdown = 10;
  static constexpr int64_t kAwake = 0;
  static constexpr int64_t kAsleep = -1;

  FileDescriptor fd_;
  Duration period_;
  // kAwake, kAsleep, or the stamp (ns, > 0) of the poke made while asleep.
  std::atomic<int64_t> state_{kAwake};
  std::atomic<uint64_t> pokes_{0};
  std::atomic<int> cpu_{-1};  // the loop's CPU when it last went to sleep
  std::atomic<bool> wanted_{false};
  std::mutex mutex_;
  std::condition_variable_any cv_;
  std::jthread thread_;  // last: started once everything above exists, stopped first
};

}  // namespace badlink
