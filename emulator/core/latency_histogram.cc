// Log-linear latency histogram; see latency_histogram.hh.
#include "core/latency_histogram.hh"

#include <algorithm>
#include <bit>
#include <cmath>

namespace badlink {

unsigned LatencyHistogram::bucket_of(uint64_t v) {
  if (v < kSub) {
    return static_cast<unsigned>(v);
  }
  const unsigned msb = 63U - static_cast<unsigned>(std::countl_zero(v));
  const unsigned shift = msb - (kSubBits - 1);  // keep kSubBits significant bits
  const unsigned group = shift;                 // 1.. for v >= kSub
  const auto sub = static_cast<unsigned>((v >> shift) & (kSub / 2 - 1));
  return kSub + (group - 1) * (kSub / 2) + sub;
}

uint64_t LatencyHistogram::upper_edge(unsigned bucket) {
  if (bucket < kSub) {
    return bucket;
  }
  const unsigned group = (bucket - kSub) / (kSub / 2) + 1;
  const unsigned sub = (bucket - kSub) % (kSub / 2);
  const uint64_t base = (uint64_t{kSub / 2} + sub) << group;
  return base + ((uint64_t{1} << group) - 1);
}

void LatencyHistogram::record(Duration d, uint64_t times) {
  if (times == 0) {
    return;
  }
  const int64_t ns = std::max<int64_t>(0, d.count());
  const unsigned b = std::min(bucket_of(static_cast<uint64_t>(ns)), kBuckets - 1);
  counts_[b] += times;
  count_ += times;
  max_ = std::max(max_, ns);
  min_ = std::min(min_, ns);
  sum_ += static_cast<double>(ns) * static_cast<double>(times);
}

uint64_t LatencyHistogram::count_at_most(Duration d) const {
  if (d.count() < 0) {
    return 0;
  }
  const auto limit = static_cast<uint64_t>(d.count());
  uint64_t n = 0;
  for (unsigned b = 0; b < kBuckets && upper_edge(b) <= limit; ++b) {
    n += counts_[b];
  }
  return n;
}

Duration LatencyHistogram::percentile(double q) const {
  if (count_ == 0) {
    return Duration{0};
  }
  q = std::clamp(q, 0.0, 1.0);
  const auto rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (unsigned b = 0; b < kBuckets; ++b) {
    seen += counts_[b];
    if (seen >= rank) {
      return Duration{std::min<int64_t>(static_cast<int64_t>(upper_edge(b)), max_)};
    }
  }
  return Duration{max_};
}

std::vector<std::pair<uint64_t, uint64_t>> LatencyHistogram::buckets() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (unsigned b = 0; b < kBuckets; ++b) {
    if (counts_[b] > 0) {
      out.emplace_back(upper_edge(b), counts_[b]);
    }
  }
  return out;
}

std::optional<uint64_t> percentile_between(const std::vector<std::pair<uint64_t, uint64_t>>& before,
                                           const std::vector<std::pair<uint64_t, uint64_t>>& now,
                                           double q) {
  std::vector<std::pair<uint64_t, uint64_t>> added;
  uint64_t total = 0;
  size_t b = 0;
  for (const auto& [edge, count] : now) {
    while (b < before.size() && before[b].first < edge) {
      ++b;
    }
    const uint64_t was = b < before.size() && before[b].first == edge ? before[b].second : 0;
    if (count > was) {
      added.emplace_back(edge, count - was);
      total += count - was;
    }
  }
  if (total == 0) {
    return std::nullopt;
  }
  const auto rank =
      static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(total)));
  uint64_t seen = 0;
  for (const auto& [edge, count] : added) {
    seen += count;
    if (seen >= std::max<uint64_t>(rank, 1)) {
      return edge;
    }
  }
  return added.back().first;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (unsigned b = 0; b < kBuckets; ++b) {
    counts_[b] += other.counts_[b];
  }
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
  sum_ += other.sum_;
}

}  // namespace badlink
