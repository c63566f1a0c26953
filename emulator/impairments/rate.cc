// Bottleneck rate limiter; see rate.hh.
#include "impairments/rate.hh"

#include <algorithm>

#include "core/rng.hh"

namespace badlink {

namespace {
// Smallest IP packet: bounds how many packets a byte limit can hold.
constexpr uint64_t kMinPacketBytes = 20;
constexpr size_t kMaxRing = size_t{1} << 20;  // "no limit" still stops at a million packets
}  // namespace

RateLimiter::RateLimiter(const RateConfig& rate, const QueueLimit& limit)
    : bits_per_second_(rate.bits_per_second),
      limit_packets_(limit.packets),
      limit_bytes_(limit.bytes) {
  if (bits_per_second_ == 0) {
    return;
  }
  uint64_t capacity = limit_packets_;
  if (capacity == 0) {
    capacity = limit_bytes_ > 0 ? limit_bytes_ / kMinPacketBytes + 1 : kMaxRing;
  }
  ring_.resize(std::min<uint64_t>(capacity, kMaxRing) + 1);
}

void RateLimiter::retire(TimePoint now) {
  while (count_ > 0 && ring_[head_].finish <= now) {
    queued_bytes_ -= ring_[head_].bytes;
    head_ = head_ + 1 == ring_.size() ? 0 : head_ + 1;
    --count_;
  }
}

std::optional<TimePoint> RateLimiter::admit(TimePoint arrival, uint32_t bytes) {
  if (bits_per_second_ == 0) {
    return arrival;
  }
  retire(arrival);
  if ((limit_packets_ > 0 && count_ >= limit_packets_) ||
      (limit_bytes_ > 0 && queued_bytes_ + bytes > limit_bytes_) || count_ + 1 >= ring_.size()) {
    return std::nullopt;
  }
  const TimePoint start = std::max(arrival, busy_until_);
  // bytes * 8e9 / bps nanoseconds, carrying the remainder so long runs do not drift.
  const uint128 numerator = static_cast<uint128>(bytes) * 8U * 1'000'000'000U + remainder_;
  const auto ns = static_cast<uint64_t>(numerator / bits_per_second_);
  remainder_ = static_cast<uint64_t>(numerator % bits_per_second_);
  busy_until_ = start + Duration{static_cast<int64_t>(ns)};
  const size_t tail = (head_ + count_) % ring_.size();
  ring_[tail] = Entry{busy_until_, bytes};
  ++count_;
  queued_bytes_ += bytes;
  return busy_until_;
}

void RateLimiter::inherit(const RateLimiter& previous) {
  busy_until_ = previous.busy_until_;
  for (size_t i = 0; i < previous.count_ && count_ + 1 < ring_.size(); ++i) {
    const Entry& e = previous.ring_[(previous.head_ + i) % previous.ring_.size()];
    ring_[(head_ + count_) % ring_.size()] = e;
    ++count_;
    queued_bytes_ += e.bytes;
  }
}

}  // namespace badlink
