// ArrivalEstimator: a running low percentile of measured wake-ups, and the arrival of an unstamped
// packet read first after a wake-up, within what the loop knows for sure.
#include <gtest/gtest.h>

#include "divert/arrival_estimator.hh"

namespace badlink {
namespace {

using std::chrono::microseconds;

const TimePoint kWoke = from_nanos(5'000'000'000);

TEST(ArrivalEstimator, NoCorrectionBeforeEnoughSamples) {
  ArrivalEstimator e;
  for (size_t i = 0; i + 1 < ArrivalEstimator::kMinSamples; ++i) {
    e.sample(microseconds(20));
  }
  EXPECT_EQ(e.wake_cost(), Duration{0});
  EXPECT_EQ(e.after_wake(kWoke, TimePoint{}), kWoke);
  e.sample(microseconds(20));
  EXPECT_EQ(e.wake_cost(), microseconds(20));
  EXPECT_EQ(e.after_wake(kWoke, TimePoint{}), kWoke - microseconds(20));
}

TEST(ArrivalEstimator, TheQuickestTenthSetsTheCorrection) {
  ArrivalEstimator e;
  // A tenth and more of the wake-ups take 12 µs, the rest 30: 12 µs is taken off (a packet
  // leaves early only after one of the few wake-ups quicker than that).
  for (size_t i = 0; i < ArrivalEstimator::kWindow; ++i) {
    e.sample(i % 8 == 0 ? microseconds(12) : microseconds(30));
  }
  EXPECT_EQ(e.wake_cost(), microseconds(12));
  EXPECT_EQ(e.samples(), ArrivalEstimator::kWindow);
  // Fewer than a tenth (1 in 16): the bulk decides.
  ArrivalEstimator f;
  for (size_t i = 0; i < ArrivalEstimator::kWindow; ++i) {
    f.sample(i % 16 == 0 ? microseconds(12) : microseconds(30));
  }
  EXPECT_EQ(f.wake_cost(), microseconds(30));
}

TEST(ArrivalEstimator, SlowWakeUpsDoNotMoveIt) {
  ArrivalEstimator e;
  // 60 % quick wake-ups, 40 % very slow ones (a busy CPU).
  for (size_t i = 0; i < ArrivalEstimator::kWindow; ++i) {
    e.sample(i % 5 < 3 ? microseconds(15) : microseconds(900));
  }
  EXPECT_EQ(e.wake_cost(), microseconds(15));
}

TEST(ArrivalEstimator, FollowsTheLastWindowOnly) {
  ArrivalEstimator e;
  for (size_t i = 0; i < ArrivalEstimator::kWindow; ++i) {
    e.sample(microseconds(40));
  }
  ASSERT_EQ(e.wake_cost(), microseconds(40));
  // The machine got quicker: once more than a tenth of the window says so, so does the
  // correction.
  for (size_t i = 0; i < ArrivalEstimator::kWindow / 2 + ArrivalEstimator::kEvery; ++i) {
    e.sample(microseconds(10));
  }
  EXPECT_EQ(e.wake_cost(), microseconds(10));
}

TEST(ArrivalEstimator, NegativeSamplesAreIgnored) {
  ArrivalEstimator e;
  for (size_t i = 0; i < 4 * ArrivalEstimator::kMinSamples; ++i) {
    e.sample(microseconds(-5));
  }
  EXPECT_EQ(e.samples(), 0u);
  EXPECT_EQ(e.wake_cost(), Duration{0});
}

TEST(ArrivalEstimator, NeverBeforeTheQueueWasLastSeenEmpty) {
  ArrivalEstimator e;
  for (size_t i = 0; i < ArrivalEstimator::kMinSamples; ++i) {
    e.sample(microseconds(20));
  }
  // Seen empty 8 µs before waking: the packet came after that, whatever a wake-up costs.
  EXPECT_EQ(e.after_wake(kWoke, kWoke - microseconds(8)), kWoke - microseconds(8));
  // Seen empty long before: one wake-up back.
  EXPECT_EQ(e.after_wake(kWoke, kWoke - microseconds(500)), kWoke - microseconds(20));
  // A queue seen empty "after" waking (clock steps never happen on CLOCK_MONOTONIC; still):
  // never later than the wake-up.
  EXPECT_EQ(e.after_wake(kWoke, kWoke + microseconds(3)), kWoke);
}

TEST(ArrivalEstimator, AfterATimeoutTheMiddleOfTheWakeUp) {
  ArrivalEstimator e;
  for (size_t i = 0; i < ArrivalEstimator::kMinSamples; ++i) {
    e.sample(microseconds(20));
  }
  // The timer expired 30 µs before the loop read: a packet epoll did not report came within
  // those 30 µs; the middle is the estimate.
  EXPECT_EQ(e.after_timer(kWoke - microseconds(30), kWoke, TimePoint{}), kWoke - microseconds(15));
  // The queue was seen empty after the expiry (cannot be, but bounded all the same).
  EXPECT_EQ(e.after_timer(kWoke - microseconds(30), kWoke, kWoke - microseconds(10)),
            kWoke - microseconds(5));
  // A timer that fired early (expiry after waking): the wake-up itself.
  EXPECT_EQ(e.after_timer(kWoke + microseconds(4), kWoke, TimePoint{}), kWoke);
  // Before the calibrator has measured wake-ups, no correction at all: the wake-up itself.
  const ArrivalEstimator uncalibrated;
  EXPECT_EQ(uncalibrated.after_timer(kWoke - microseconds(30), kWoke, TimePoint{}), kWoke);
}

TEST(ArrivalEstimator, AfterALongTimeoutWakeUpNoMoreThanOneWakeUpBack) {
  ArrivalEstimator e;
  for (size_t i = 0; i < ArrivalEstimator::kMinSamples; ++i) {
    e.sample(microseconds(12));
  }
  // A 100 µs wake-up (a stalled host): its middle would be 50 µs back, and a packet that came
  // just before the loop ran would leave 38 µs early; one wake-up back it is.
  EXPECT_EQ(e.after_timer(kWoke - microseconds(100), kWoke, TimePoint{}), kWoke - microseconds(12));
  // A short one: its middle is nearer than a wake-up, and stays.
  EXPECT_EQ(e.after_timer(kWoke - microseconds(16), kWoke, TimePoint{}), kWoke - microseconds(8));
}

}  // namespace
}  // namespace badlink
