// A packet-delivery trace (Mahimahi's format): the moments at which a link can deliver, each a
// chance to send kDeliveryBytes. A bottleneck served by one delivers a packet at the
// opportunity that carries its last byte; bytes are accounted per byte (a packet may span
// opportunities, and what is left of one carries the next queued packet), an opportunity
// nothing waits for is wasted, and the trace loops (its last time is its period) unless told
// not to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.hh"

namespace badlink {

// What one opportunity carries: Mahimahi's MTU-sized delivery.
inline constexpr uint64_t kDeliveryBytes = 1500;

struct DeliveryTrace {
  std::vector<uint64_t> ms;  // non-decreasing milliseconds after the start; the last is > 0
  bool loop = true;
  std::string source;  // the file as the profile names it

  Duration period() const { return std::chrono::milliseconds(ms.empty() ? 0 : ms.back()); }
  // What the trace can carry on average, over one period.
  double mean_bits_per_second() const;

  friend bool operator==(const DeliveryTrace&, const DeliveryTrace&) = default;
};

// Where a link served by a trace stands: the next opportunity and what is left of the last one
// used. The trace's time 0 is `epoch` (the timeline's start).
class DeliverySchedule {
 public:
  // When the last of `bytes` goes, given the packet's service starts at `begin`; `queued`: it
  // waited behind the previous packet, so may use what that one left of its opportunity.
  // nullopt: a trace that does not loop has no opportunity left.
  std::optional<TimePoint> serve(const DeliveryTrace& trace, TimePoint epoch, uint64_t bytes,
                                 TimePoint begin, bool queued);

 private:
  TimePoint at(const DeliveryTrace& trace, TimePoint epoch, uint64_t index) const;
  uint64_t first_after(const DeliveryTrace& trace, TimePoint epoch, TimePoint t) const;

  uint64_t next_ = 0;  // the next opportunity, counted from the trace's start over its loops
  uint64_t left_ = 0;  // bytes left of the last one used
  TimePoint last_{};   // when that one was
};

}  // namespace badlink
