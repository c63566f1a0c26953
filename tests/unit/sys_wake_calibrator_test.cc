// WakeCalibrator: pokes only a loop that says it is asleep and has packets to time, from
// another CPU, and stops at once. Real threads and CLOCK_MONOTONIC; no figure is asserted,
// only what must always hold.
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>

#include <chrono>

#include "core/clock.hh"
#include "sys/wake_calibrator.hh"

namespace badlink {
namespace {

using std::chrono::milliseconds;

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

TEST(WakeCalibrator, NeverPokesALoopThatIsAwake) {
  WakeCalibrator calibrator(milliseconds(1));
  calibrator.wanted();
  EXPECT_FALSE(readable(calibrator.fd(), 50));  // ~50 rounds of the helper
  EXPECT_EQ(calibrator.pokes(), 0u);
  EXPECT_FALSE(calibrator.woke().has_value());
}

TEST(WakeCalibrator, NeverPokesALoopWithNothingToTime) {
  WakeCalibrator calibrator(milliseconds(1));
  calibrator.going_to_sleep();
  EXPECT_FALSE(readable(calibrator.fd(), 100));  // ~10 slowed-down rounds of the helper
  EXPECT_EQ(calibrator.pokes(), 0u);
  EXPECT_FALSE(calibrator.woke().has_value());
}

TEST(WakeCalibrator, MeasuresWakeUpsOfASleepingLoop) {
  cpu_set_t cpus;
  ASSERT_EQ(::sched_getaffinity(0, sizeof cpus, &cpus), 0);
  if (CPU_COUNT(&cpus) < 2) {
    GTEST_SKIP() << "one CPU: the helper never runs beside the loop, so it never pokes";
  }
  const SteadyClock clock;
  WakeCalibrator calibrator(milliseconds(1));
  int samples = 0;
  const TimePoint give_up = clock.now() + std::chrono::seconds(10);
  while (samples < 20 && clock.now() < give_up) {
    const TimePoint slept = clock.now();
    calibrator.wanted();
    calibrator.going_to_sleep();
    const bool poked = readable(calibrator.fd(), 200);
    const TimePoint woke = clock.now();
    const std::optional<TimePoint> stamp = calibrator.woke();
    if (!poked) {
      continue;  // the helper kept landing on this CPU: it skips those rounds
    }
    calibrator.acknowledge();
    ASSERT_TRUE(stamp.has_value());  // it only writes after stamping
    EXPECT_GE(*stamp, slept);        // poked while this loop slept
    EXPECT_LE(*stamp, woke);         // before the wake-up it caused
    ++samples;
  }
  EXPECT_EQ(samples, 20);
  EXPECT_GE(calibrator.pokes(), 20u);
  // Awake again: nothing more comes.
  EXPECT_FALSE(readable(calibrator.fd(), 20));
}

TEST(WakeCalibrator, StopsAtOnce) {
  const SteadyClock clock;
  const TimePoint start = clock.now();
  {
    WakeCalibrator calibrator(std::chrono::hours(1));
    calibrator.going_to_sleep();
  }
  EXPECT_LT(clock.now() - start, std::chrono::seconds(5));  // not an hour
}

}  // namespace
}  // namespace badlink
