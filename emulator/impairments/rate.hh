// The bottleneck: a FIFO that serialises packets at a fixed rate (dummynet's pipe bandwidth,
// Mahimahi's link), with a tail-drop limit on what waits in it. Computed analytically: no
// packet is held here, only the finish times of those still in the queue.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/time.hh"
#include "impairments/config.hh"

namespace badlink {

class RateLimiter {
 public:
  RateLimiter(const RateConfig& rate, const QueueLimit& limit);

  // When the packet finishes serialisation, or nullopt when the queue is full (tail drop).
  // Arrivals must come in non-decreasing time order.
  std::optional<TimePoint> admit(TimePoint arrival, uint32_t bytes);

  bool enabled() const { return bits_per_second_ > 0; }
  size_t queued_packets() const { return count_; }
  uint64_t queued_bytes() const { return queued_bytes_; }

  // Takes over the backlog of another limiter (profile reload): nothing queued is forgotten.
  void inherit(const RateLimiter& previous);

 private:
  void retire(TimePoint now);

  struct Entry {
    TimePoint finish;
    uint32_t bytes;
  };

  uint64_t bits_per_second_;
  uint64_t limit_packets_;
  uint64_t limit_bytes_;
  TimePoint busy_until_{};
  uint64_t remainder_ = 0;   // sub-nanosecond carry, in units of 1/bits_per_second ns
  std::vector<Entry> ring_;  // sized once; finish times of queued packets in FIFO order
  size_t head_ = 0;
  size_t count_ = 0;
  uint64_t queued_bytes_ = 0;
};

}  // namespace badlink
