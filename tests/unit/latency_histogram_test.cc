// The delay histogram's buckets, and percentiles over what two readings of it differ by (what
// `ctl watch` shows each second).
#include "core/latency_histogram.hh"

#include <gtest/gtest.h>

namespace badlink {
namespace {

using std::chrono::milliseconds;

TEST(LatencyHistogram, BucketsHoldEverySampleInOrder) {
  LatencyHistogram h;
  h.record(milliseconds(20), 3);
  h.record(milliseconds(1));
  const auto b = h.buckets();
  ASSERT_EQ(b.size(), 2u);
  EXPECT_LT(b[0].first, b[1].first);
  EXPECT_EQ(b[0].second, 1u);
  EXPECT_EQ(b[1].second, 3u);
  EXPECT_NEAR(static_cast<double>(b[1].first), 20e6, 20e6 * 0.016);
}

TEST(LatencyHistogram, PercentilesBetweenTwoReadings) {
  LatencyHistogram h;
  h.record(milliseconds(10), 1000);
  const auto before = h.buckets();
  EXPECT_EQ(percentile_between(before, h.buckets(), 0.5), std::nullopt);  // nothing since
  h.record(milliseconds(50), 100);
  h.record(milliseconds(1000));
  const auto now = h.buckets();
  // The 101 new samples only: the 1,000 at 10 ms are the earlier reading's.
  const auto near = [](std::optional<uint64_t> ns, double ms) {
    ASSERT_TRUE(ns);
    EXPECT_NEAR(static_cast<double>(*ns) / 1e6, ms, ms * 0.016);
  };
  near(percentile_between(before, now, 0.5), 50);
  near(percentile_between(before, now, 0.99), 50);  // the 100th of 101
  near(percentile_between(before, now, 1.0), 1000);
  near(percentile_between({}, now, 0.5), 10);  // from nothing: every sample
}

}  // namespace
}  // namespace badlink
