// Delay percentiles without storing samples: a log-linear histogram (HdrHistogram's layout)
// over nanoseconds with at most 1.6% relative error, fixed size, no allocation when recording.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/time.hh"

namespace badlink {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 7;  // 128 linear sub-buckets per power of two
  static constexpr unsigned kSub = 1U << kSubBits;
  static constexpr unsigned kBuckets = (64 - kSubBits + 1) * kSub;

  // `times` samples of the same value (a GSO super-packet's wire packets).
  void record(Duration d, uint64_t times = 1);
  // The value at quantile q in [0, 1] (upper edge of its bucket, never above max()).
  Duration percentile(double q) const;
  Duration max() const { return Duration{max_}; }
  Duration min() const { return Duration{count_ == 0 ? 0 : min_}; }
  double mean_ns() const { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }
  uint64_t count() const { return count_; }
  // How many samples are at most `d` (whole buckets: those whose upper edge is <= d), for a
  // cumulative histogram with fixed bounds such as Prometheus'.
  uint64_t count_at_most(Duration d) const;
  double sum_ns() const { return sum_; }
  void merge(const LatencyHistogram& other);
  // Every bucket that holds samples, as (its upper edge in ns, its count), in order: what a
  // reader needs to take percentiles over the samples between two readings.
  std::vector<std::pair<uint64_t, uint64_t>> buckets() const;

 private:
  static unsigned bucket_of(uint64_t v);
  static uint64_t upper_edge(unsigned bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  int64_t max_ = 0;
  int64_t min_ = INT64_MAX;
  double sum_ = 0.0;
};

// The value at quantile q of the samples `now` holds beyond `before` (two readings of
// buckets() of one histogram, `before` the earlier): the upper edge of the bucket that holds it,
// in ns; nullopt when none came between them.
std::optional<uint64_t> percentile_between(const std::vector<std::pair<uint64_t, uint64_t>>& before,
                                           const std::vector<std::pair<uint64_t, uint64_t>>& now,
                                           double q);

}  // namespace badlink
