// ArrivalEstimator: a running low percentile of measured wake-ups.
#include "divert/arrival_estimator.hh"

#include <algorithm>

namespace badlink {

void ArrivalEstimator::sample(Duration wake) {
  if (wake.count() < 0) {
    return;
  }
  ring_[samples_ % kWindow] = wake.count();
  ++samples_;
  if (samples_ < kMinSamples || samples_ % kEvery != 0) {
    return;
  }
  const size_t n = std::min<uint64_t>(samples_, kWindow);
  std::array<int64_t, kWindow> sorted = ring_;
  const auto at = sorted.begin() + static_cast<ptrdiff_t>(n * kPercent / 100);
  std::nth_element(sorted.begin(), at, sorted.begin() + static_cast<ptrdiff_t>(n));
  wake_cost_ = Duration{*at};
}

TimePoint ArrivalEstimator::after_wake(TimePoint woke, TimePoint quiet_since) const {
  return std::max(woke - wake_cost_, std::min(quiet_since, woke));
}

TimePoint ArrivalEstimator::after_timer(TimePoint expired, TimePoint read,
                                        TimePoint quiet_since) const {
  const TimePoint from = std::min(std::max(expired, quiet_since), read);
  return std::max(from + (read - from) / 2, read - wake_cost_);
}

}  // namespace badlink
