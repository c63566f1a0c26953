// Packet-delivery traces; see delivery_trace.hh.
#include "impairments/delivery_trace.hh"

#include <algorithm>

namespace badlink {

double DeliveryTrace::mean_bits_per_second() const {
  if (ms.empty() || ms.back() == 0) {
    return 0.0;
  }
  return static_cast<double>(ms.size()) * kDeliveryBytes * 8.0 /
         (static_cast<double>(ms.back()) / 1e3);
}

TimePoint DeliverySchedule::at(const DeliveryTrace& trace, TimePoint epoch, uint64_t index) const {
  const uint64_t n = trace.ms.size();
  const uint64_t cycle = index / n;
  return epoch + trace.period() * static_cast<int64_t>(cycle) +
         std::chrono::milliseconds(trace.ms[index % n]);
}

uint64_t DeliverySchedule::first_after(const DeliveryTrace& trace, TimePoint epoch,
                                       TimePoint t) const {
  const uint64_t n = trace.ms.size();
  if (t < epoch) {
    return 0;
  }
  const int64_t period = trace.period().count();
  const int64_t since = (t - epoch).count();
  const auto cycle = static_cast<uint64_t>(since / period);
  const int64_t within = since % period;
  // The first time strictly after `within`: an opportunity serves what waited before it.
  const auto it = std::upper_bound(
      trace.ms.begin(), trace.ms.end(), within,
      [](int64_t w, uint64_t m) { return w < static_cast<int64_t>(m) * 1'000'000; });
  return cycle * n + static_cast<uint64_t>(it - trace.ms.begin());
}

std::optional<TimePoint> DeliverySchedule::serve(const DeliveryTrace& trace, TimePoint epoch,
                                                 uint64_t bytes, TimePoint begin, bool queued) {
  if (trace.ms.empty() || trace.period().count() <= 0) {
    return std::nullopt;
  }
  uint64_t remaining = std::max<uint64_t>(bytes, 1);
  if (queued && begin <= last_) {
    // Behind the previous packet: on with what it left, then the opportunities after it.
    const uint64_t take = std::min(left_, remaining);
    left_ -= take;
    remaining -= take;
    if (remaining == 0) {
      return last_;
    }
  } else {
    // Idle meanwhile: what was left is wasted, and so is every opportunity until `begin`.
    left_ = 0;
    next_ = std::max(next_, first_after(trace, epoch, begin));
  }
  const uint64_t n = trace.ms.size();
  while (remaining > 0) {
    if (!trace.loop && next_ >= n) {
      left_ = 0;
      return std::nullopt;
    }
    last_ = at(trace, epoch, next_);
    ++next_;
    const uint64_t take = std::min(kDeliveryBytes, remaining);
    remaining -= take;
    left_ = kDeliveryBytes - take;
  }
  return last_;
}

}  // namespace badlink
