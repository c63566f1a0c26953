// PriorityGovernor: the packet loop is raised while it has departures to time and light
// traffic, lowered while it reads a flood (with hysteresis) or has nothing to time.
#include <gtest/gtest.h>

#include "divert/priority_governor.hh"

namespace badlink {
namespace {

using std::chrono::milliseconds;

PriorityPolicy policy() {
  PriorityPolicy p;
  p.raised_nice = -20;
  p.lowered_nice = 0;
  p.flood_pps = 20000;  // 1,000 packets in a 50 ms window
  p.window = milliseconds(50);
  return p;
}

// Reads `packets` spread over one window in 10 turns, from `start`; the last answer.
std::optional<int> window_of(PriorityGovernor& g, TimePoint start, uint64_t packets) {
  std::optional<int> last;
  for (int i = 1; i <= 10; ++i) {
    if (const auto n = g.observe(start + milliseconds(5) * i, packets / 10)) {
      last = n;
    }
  }
  return last;
}

TEST(PriorityGovernor, StartsRaisedAndStaysSoUnderLightTraffic) {
  PriorityGovernor g(policy());
  EXPECT_EQ(g.nice(), -20);
  TimePoint t = from_nanos(1'000'000'000);
  g.observe(t, 0);
  for (int w = 0; w < 20; ++w) {
    EXPECT_EQ(window_of(g, t, 250), std::nullopt);  // 5,000 packets/s: the precision case
    t += milliseconds(50);
  }
  EXPECT_EQ(g.nice(), -20);
  EXPECT_EQ(g.floods(), 0u);
}

TEST(PriorityGovernor, AFloodLowersItAfterOneWindowAndHalfTheRateRaisesIt) {
  PriorityGovernor g(policy());
  TimePoint t = from_nanos(1'000'000'000);
  g.observe(t, 0);
  EXPECT_EQ(window_of(g, t, 1000), 0);  // 20,000 packets/s: a flood
  EXPECT_TRUE(g.flooded());
  t += milliseconds(50);
  EXPECT_EQ(window_of(g, t, 600), std::nullopt);  // 12,000/s: above half, still lowered
  EXPECT_EQ(g.nice(), 0);
  t += milliseconds(50);
  EXPECT_EQ(window_of(g, t, 400), -20);  // 8,000/s: below half, raised again
  EXPECT_FALSE(g.flooded());
  EXPECT_EQ(g.floods(), 1u);
}

TEST(PriorityGovernor, JustBelowTheFloodRateStaysRaised) {
  PriorityGovernor g(policy());
  TimePoint t = from_nanos(1'000'000'000);
  g.observe(t, 0);
  EXPECT_EQ(window_of(g, t, 990), std::nullopt);  // 19,800/s
  EXPECT_EQ(g.nice(), -20);
}

TEST(PriorityGovernor, AQuietSpellAfterAFloodRaisesItAtTheNextReading) {
  PriorityGovernor g(policy());
  TimePoint t = from_nanos(1'000'000'000);
  g.observe(t, 0);
  EXPECT_EQ(window_of(g, t, 2000), 0);
  // The flood stops; the loop wakes next a second later for one packet.
  EXPECT_EQ(g.observe(t + milliseconds(1050), 1), -20);
}

TEST(PriorityGovernor, NothingToTimeLowersItWhateverTheTraffic) {
  PriorityGovernor g(policy());
  EXPECT_EQ(g.set_timing_needed(false), 0);
  EXPECT_EQ(g.set_timing_needed(false), std::nullopt);
  EXPECT_EQ(g.set_timing_needed(true), -20);
  TimePoint t = from_nanos(1'000'000'000);
  g.observe(t, 0);
  EXPECT_EQ(window_of(g, t, 5000), 0);
  // Flooded and nothing to time: lowered either way, so no change to apply.
  EXPECT_EQ(g.set_timing_needed(false), std::nullopt);
}

TEST(PriorityGovernor, AZeroFloodRateNeverLowersForTraffic) {
  PriorityPolicy p = policy();
  p.flood_pps = 0;
  PriorityGovernor g(p);
  TimePoint t = from_nanos(1'000'000'000);
  g.observe(t, 0);
  EXPECT_EQ(window_of(g, t, 1'000'000), std::nullopt);
  EXPECT_EQ(g.nice(), -20);
}

TEST(PriorityGovernor, EqualNiceValuesNeverAskForAChange) {
  PriorityPolicy p = policy();
  p.raised_nice = 0;
  PriorityGovernor g(p);
  TimePoint t = from_nanos(1'000'000'000);
  g.observe(t, 0);
  EXPECT_EQ(window_of(g, t, 5000), std::nullopt);
  EXPECT_EQ(g.set_timing_needed(false), std::nullopt);
}

}  // namespace
}  // namespace badlink

namespace badlink {
namespace {

// Yielding must not cost the departures their time: one handed back late raises the loop at
// once, and it tries yielding again only after the hold, doubled each time that fails.
TEST(PriorityGovernor, ALateDepartureWhileYieldingRaisesItAndHoldsItRaised) {
  PriorityPolicy p = policy();
  p.late_limit = milliseconds(1);
  p.hold = std::chrono::seconds(1);
  p.longest_hold = std::chrono::seconds(3);
  PriorityGovernor g(p);
  TimePoint t = from_nanos(1'000'000'000);
  g.observe(t, 0);
  EXPECT_EQ(window_of(g, t, 2000), 0);                                            // a flood: yields
  EXPECT_EQ(g.observe(t + milliseconds(51), 10, milliseconds(1)), std::nullopt);  // at the limit
  EXPECT_EQ(g.observe(t + milliseconds(52), 10, milliseconds(2)), -20);           // past it
  EXPECT_EQ(g.late_raises(), 1u);
  // The flood goes on: held raised for 1 s...
  t += milliseconds(52);
  for (int w = 0; w < 19; ++w) {
    EXPECT_EQ(window_of(g, t, 2000), std::nullopt);
    t += milliseconds(50);
  }
  // ...then it yields again; late again, it is held for 2 s, then 3 s (the longest).
  EXPECT_EQ(window_of(g, t, 2000), 0);
  t += milliseconds(50);
  EXPECT_EQ(g.observe(t, 10, milliseconds(5)), -20);
  for (int w = 0; w < 39; ++w) {
    EXPECT_EQ(window_of(g, t, 2000), std::nullopt);
    t += milliseconds(50);
  }
  EXPECT_EQ(window_of(g, t, 2000), 0);
  EXPECT_EQ(g.observe(t + milliseconds(50), 10, milliseconds(5)), -20);
  EXPECT_EQ(g.late_raises(), 3u);
  EXPECT_EQ(g.floods(), 3u);
}

TEST(PriorityGovernor, LatenessWhileRaisedDoesNotHoldItBack) {
  PriorityGovernor g(policy());
  TimePoint t = from_nanos(1'000'000'000);
  g.observe(t, 0, milliseconds(50));  // late while raised: not the yielding's fault
  EXPECT_EQ(window_of(g, t, 2000), 0);
  EXPECT_EQ(g.late_raises(), 0u);
}

}  // namespace
}  // namespace badlink
