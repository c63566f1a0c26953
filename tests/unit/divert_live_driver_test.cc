// LiveDriver with a fake backend and a manual clock: what the engine drops is consumed (so a
// held packet's verdict is a drop), every surviving copy is reinjected once, at its time, and
// finish() hands back everything still held.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstring>
#include <deque>
#include <vector>

#include "divert/live_driver.hh"
#include "fake_backend.hh"

namespace badlink {
namespace {

using std::chrono::milliseconds;

class DivertLiveDriver : public ::testing::Test {
 protected:
  void start(const DirectionConfig& outbound, const DirectionConfig& inbound) {
    DirectionConfigs configs{};
    configs[index_of(Direction::outbound)] = outbound;
    configs[index_of(Direction::inbound)] = inbound;
    driver_.reset();  // before the engine it observes
    engine_ = std::make_unique<Engine>(configs, 7, pool_);
    LiveOptions options;
    options.burst_linger = Duration{0};  // a ManualClock never moves on its own
    options.stats_interval = Duration{0};
    options.wake_calibration = Duration{0};  // measures the real clock, not this one
    options.max_unwatched_wait = max_unwatched_wait_;
    options.max_spin_share = max_spin_share_;
    options.spin_burst = std::chrono::microseconds(200);
    if (priority_) {
      options.priority = priority_;
      options.apply_nice = [this](int nice) {
        applied_nice_.push_back(nice);
        return true;
      };
    }
    driver_ = std::make_unique<LiveDriver>(*engine_, backend_, pool_, clock_, signals_, options);
  }

  // One pass of the loop: the pending SIGUSR1 makes run() return after it.
  void turn() {
    ::raise(SIGUSR1);
    const LiveEvent e = driver_->run();
    ASSERT_EQ(e.kind, LiveEvent::Kind::write_stats);
  }

  // Outbound passes at once (it must stay watched); inbound delays 10 ms, with a slack of
  // 10 ms. One inbound packet's stay, which must end at its time: how many waits left a
  // descriptor unwatched.
  uint64_t inbound_only_stay() {
    DirectionConfig delayed;
    delayed.delay.delay = milliseconds(10);
    start(DirectionConfig{}, delayed);
    driver_->set_arrival_slack(Direction::inbound, milliseconds(10));
    backend_.queue(Direction::inbound, 1, clock_.now());
    turn();
    clock_.advance(milliseconds(1));
    turn();
    turn();
    clock_.advance(milliseconds(9));
    turn();
    EXPECT_EQ(backend_.reinjected, (std::vector<uint64_t>{1}));
    return driver_->stats().unwatched_waits;
  }

  Duration max_unwatched_wait_ = std::chrono::seconds(1);  // the tests' waits are of ms
  double max_spin_share_ = 0.5;
  std::optional<PriorityPolicy> priority_;
  std::vector<int> applied_nice_;  // what the governor asked for, in order
  TickingClock clock_{from_nanos(1'000'000'000)};
  SignalFd signals_{SIGUSR1};
  PacketPool pool_;
  FakeBackend backend_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<LiveDriver> driver_;
};

TEST_F(DivertLiveDriver, ZeroDelayGoesStraightBack) {
  start(DirectionConfig{}, DirectionConfig{});
  backend_.queue(Direction::outbound, 1);
  backend_.queue(Direction::inbound, 2);
  turn();
  EXPECT_EQ(backend_.reinjected, (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(backend_.consumed.empty());
  EXPECT_GE(backend_.flushes, 1);
  EXPECT_EQ(pool_.in_use(), 0u);
}

TEST_F(DivertLiveDriver, DelayedPacketsLeaveAtTheirTime) {
  DirectionConfig delayed;
  delayed.delay.delay = milliseconds(10);
  start(delayed, DirectionConfig{});
  backend_.queue(Direction::outbound, 1);
  turn();
  EXPECT_TRUE(backend_.reinjected.empty());
  clock_.advance(milliseconds(9));
  turn();
  EXPECT_TRUE(backend_.reinjected.empty());
  clock_.advance(milliseconds(1));
  turn();
  EXPECT_EQ(backend_.reinjected, (std::vector<uint64_t>{1}));
  EXPECT_EQ(driver_->stats().lateness.max(), Duration{0});
}

TEST_F(DivertLiveDriver, LostPacketsAreConsumed) {
  DirectionConfig lossy;
  lossy.loss = BernoulliLoss{1.0};
  start(DirectionConfig{}, lossy);
  for (uint64_t h = 1; h <= 5; ++h) {
    backend_.queue(Direction::inbound, h);
  }
  turn();
  EXPECT_TRUE(backend_.reinjected.empty());
  EXPECT_EQ(backend_.consumed, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(driver_->stats().dropped_copies, 5u);
}

TEST_F(DivertLiveDriver, DuplicatesAreReinjectedTwiceAndNeverConsumed) {
  DirectionConfig dup;
  dup.duplicate = 1.0;
  start(DirectionConfig{}, dup);
  backend_.queue(Direction::inbound, 1);
  backend_.queue(Direction::inbound, 2);
  turn();
  EXPECT_EQ(backend_.reinjected, (std::vector<uint64_t>{1, 1, 2, 2}));
  EXPECT_TRUE(backend_.consumed.empty());
}

TEST_F(DivertLiveDriver, AConsumeOnlyWhenEveryCopyIsLost) {
  // Half the packets duplicated, half of all copies lost: a handle is consumed exactly when
  // none of its copies came back.
  DirectionConfig both;
  both.duplicate = 0.5;
  both.loss = BernoulliLoss{0.5};
  start(DirectionConfig{}, both);
  constexpr uint64_t kPackets = 2000;
  for (uint64_t h = 1; h <= kPackets; ++h) {
    backend_.queue(Direction::inbound, h);
  }
  for (int i = 0; i < 40; ++i) {
    turn();
  }
  std::vector<int> copies(kPackets + 1, 0);
  for (const uint64_t h : backend_.reinjected) {
    ++copies[h];
  }
  std::vector<bool> consumed(kPackets + 1, false);
  for (const uint64_t h : backend_.consumed) {
    EXPECT_FALSE(consumed[h]) << "consumed twice: " << h;
    consumed[h] = true;
  }
  for (uint64_t h = 1; h <= kPackets; ++h) {
    EXPECT_EQ(consumed[h], copies[h] == 0) << "handle " << h;
    EXPECT_LE(copies[h], 2);
  }
}

TEST_F(DivertLiveDriver, WithSlackTheQueueIsReadAtDeparturesAndPacketsLeaveOnTime) {
  DirectionConfig delayed;
  delayed.delay.delay = milliseconds(10);
  start(delayed, delayed);
  driver_->set_arrival_slack(Direction::outbound, milliseconds(10));
  driver_->set_arrival_slack(Direction::inbound, milliseconds(10));
  const TimePoint t0 = clock_.now();
  backend_.queue(Direction::outbound, 1, t0);
  turn();  // packet 1 read; the queue last seen empty at t0
  clock_.advance(milliseconds(1));
  turn();  // the wait for packet 1 would end 9.95 ms after t0: too close to t0 + 10 ms
  EXPECT_EQ(driver_->stats().unwatched_waits, 0u);
  // Last seen empty at t0 + 1 ms: whatever comes next leaves at t0 + 11 ms or later, and the
  // wait for packet 1 may leave the queue unwatched; what came meanwhile is read at wake-up.
  clock_.advance(milliseconds(2));
  backend_.queue(Direction::inbound, 2, t0 + milliseconds(2));
  turn();
  EXPECT_EQ(driver_->stats().unwatched_waits, 1u);
  EXPECT_TRUE(backend_.reinjected.empty());
  clock_.advance(milliseconds(7));
  turn();
  EXPECT_EQ(backend_.reinjected, (std::vector<uint64_t>{1}));
  clock_.advance(milliseconds(2));
  turn();
  EXPECT_EQ(backend_.reinjected, (std::vector<uint64_t>{1, 2}));  // at t0 + 12 ms: its time
  EXPECT_EQ(driver_->stats().lateness.max(), Duration{0});
  EXPECT_GE(driver_->stats().unwatched_waits, 2u);

  // A packet without a kernel stamp (stamped when read) turns it off for good.
  backend_.queue(Direction::outbound, 3);
  backend_.queue(Direction::outbound, 4, clock_.now());
  turn();
  const uint64_t before = driver_->stats().unwatched_waits;
  clock_.advance(milliseconds(3));
  turn();
  turn();
  EXPECT_EQ(driver_->stats().unwatched_waits, before);
  clock_.advance(milliseconds(20));
  turn();
  EXPECT_EQ(backend_.reinjected, (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST_F(DivertLiveDriver, AWaitBeyondTheSlackWatchesTheQueue) {
  DirectionConfig delayed;
  delayed.delay.delay = milliseconds(10);
  start(delayed, delayed);
  driver_->set_arrival_slack(Direction::outbound, milliseconds(5));  // may leave 5 ms after
  driver_->set_arrival_slack(Direction::inbound, milliseconds(10));
  const TimePoint t0 = clock_.now();
  backend_.queue(Direction::outbound, 1, t0);
  turn();
  clock_.advance(milliseconds(1));
  turn();
  turn();  // last seen empty at t0 + 1 ms: a packet may be due at t0 + 6, the wait ends at 9.95
  EXPECT_EQ(driver_->stats().unwatched_waits, 0u);
  clock_.advance(milliseconds(5));
  turn();  // seen empty at t0 + 6 ms: nothing new is due before t0 + 11
  EXPECT_EQ(driver_->stats().unwatched_waits, 0u);
  turn();
  EXPECT_EQ(driver_->stats().unwatched_waits, 1u);
  driver_->set_arrival_slack(Direction::inbound, std::nullopt);
  turn();
  EXPECT_EQ(driver_->stats().unwatched_waits, 1u);
}

// After an unwatched sleep, what came meanwhile is read once the departures are out -- or,
// for a direction that asks for it, in the spin before them while the margin (10 us) remains.

TEST_F(DivertLiveDriver, AfterAnUnwatchedSleepTheQueueIsReadAfterTheDepartures) {
  DirectionConfig delayed;
  delayed.delay.delay = milliseconds(10);
  backend_.split_descriptors();
  start(DirectionConfig{}, delayed);
  for (const bool spin_read : {false, true}) {
    SCOPED_TRACE(spin_read ? "read while spinning" : "read after");
    backend_.reinjected.clear();
    backend_.received_before_reinject.clear();
    driver_->set_arrival_slack(Direction::inbound, milliseconds(10), spin_read);
    const TimePoint t0 = clock_.now();
    const uint64_t read = backend_.received();
    backend_.queue(Direction::inbound, 1, t0);
    turn();
    clock_.advance(milliseconds(1));
    turn();
    clock_.advance(milliseconds(2));
    const uint64_t unwatched = driver_->stats().unwatched_waits;
    turn();  // a sleep with inbound unwatched, until the lead before packet 1's departure
    ASSERT_EQ(driver_->stats().unwatched_waits, unwatched + 1);
    backend_.queue(Direction::inbound, 2, t0 + milliseconds(4));  // came during that sleep
    clock_.set(t0 + milliseconds(10) - std::chrono::microseconds(40));
    clock_.tick = std::chrono::microseconds(1);  // the spin's clock moves
    turn();
    clock_.tick = Duration{0};
    ASSERT_EQ(backend_.reinjected, (std::vector<uint64_t>{1}));
    EXPECT_EQ(backend_.received_before_reinject[0] - read, spin_read ? 2u : 1u);
    EXPECT_EQ(backend_.received() - read, 2u);  // read either way, once packet 1 is out
    EXPECT_LE(driver_->stats().lateness.max(), std::chrono::microseconds(2));
    clock_.set(t0 + milliseconds(14));  // packet 2's time
    turn();
    EXPECT_EQ(backend_.reinjected, (std::vector<uint64_t>{1, 2}));
    EXPECT_LE(driver_->stats().lateness.max(), std::chrono::microseconds(2));
  }
}

// A direction read while spinning: what came during the sleep before a departure whose spin
// was too short to read it (a late timer) waits, unread, for the spin before the next one, and
// the loop sleeps straight after the departure (the application it woke runs now) -- unless
// the queue was last seen empty more than 500 us ago: then it is read at once.
TEST_F(DivertLiveDriver, WhatTheNextSpinReadsWaitsForItAfterADeparture) {
  using std::chrono::microseconds;
  DirectionConfig delayed;
  delayed.delay.delay = milliseconds(10);
  backend_.split_descriptors();
  backend_.quiet_outbound();
  start(DirectionConfig{}, delayed);
  driver_->set_arrival_slack(Direction::inbound, milliseconds(10), true);
  uint64_t handle = 0;
  for (const Duration gap : {Duration{microseconds(200)}, Duration{milliseconds(1)}}) {
    const bool deferred = gap < microseconds(500);
    SCOPED_TRACE(deferred ? "departures 200 us apart" : "departures 1 ms apart");
    backend_.reinjected.clear();
    backend_.received_before_reinject.clear();
    const TimePoint t0 = clock_.now();
    const uint64_t read = backend_.received();
    for (int i = 0; i < 3; ++i) {  // departures at t0 + 10 ms + i * gap
      clock_.set(t0 + i * gap);
      backend_.queue(Direction::inbound, ++handle, t0 + i * gap);
      turn();
    }
    const TimePoint first = t0 + milliseconds(10);
    clock_.tick = microseconds(1);  // the spin's clock moves
    clock_.set(first - microseconds(40));
    turn();  // the spin reads whatever is left and sees the queue empty; the first goes
    ASSERT_EQ(backend_.reinjected.size(), 1u);
    ASSERT_EQ(backend_.received() - read, 3u);
    backend_.queue(Direction::inbound, ++handle, first + microseconds(50));  // during the sleep
    const uint64_t unwatched = driver_->stats().unwatched_waits;
    clock_.set(first + gap - microseconds(5));  // woke late: no time to read in the spin
    turn();
    ASSERT_EQ(backend_.reinjected.size(), 2u);
    EXPECT_EQ(backend_.received_before_reinject[1] - read, 3u);
    EXPECT_EQ(backend_.received() - read, deferred ? 3u : 4u);
    EXPECT_EQ(driver_->stats().unwatched_waits, unwatched + 1);  // the wait after it
    clock_.set(first + 2 * gap - microseconds(40));
    turn();
    ASSERT_EQ(backend_.reinjected.size(), 3u);
    EXPECT_EQ(backend_.received_before_reinject[2] - read, 4u);  // read before it went
    EXPECT_LE(driver_->stats().lateness.max(), microseconds(2));
    clock_.tick = Duration{0};
    clock_.set(first + microseconds(50) + milliseconds(10));  // the fourth packet's time
    turn();
    EXPECT_EQ(backend_.reinjected.size(), 4u);
  }
}

// Outbound passes at once (it must stay watched); inbound delays 10 ms, with a slack of 10.

TEST_F(DivertLiveDriver, ALongSleepWatchesEveryQueue) {
  // As ADirectionWithADescriptorOfItsOwnMayBeLeft, but the wait for the departure (9 ms) is
  // longer than an unwatched sleep may be.
  max_unwatched_wait_ = milliseconds(2);
  backend_.split_descriptors();
  EXPECT_EQ(inbound_only_stay(), 0u);
}

TEST_F(DivertLiveDriver, ADirectionSharingItsDescriptorStaysWatched) {
  EXPECT_EQ(inbound_only_stay(), 0u);
}

TEST_F(DivertLiveDriver, ADirectionWithADescriptorOfItsOwnMayBeLeft) {
  backend_.split_descriptors();
  EXPECT_GE(inbound_only_stay(), 1u);
}

TEST_F(DivertLiveDriver, FinishHandsBackEverythingHeld) {
  DirectionConfig delayed;
  delayed.delay.delay = std::chrono::seconds(5);
  start(delayed, delayed);
  backend_.queue(Direction::outbound, 1);
  backend_.queue(Direction::inbound, 2);
  turn();
  EXPECT_TRUE(backend_.reinjected.empty());
  backend_.queue(Direction::inbound, 3);  // received by the kernel, not yet read
  driver_->finish();
  EXPECT_EQ(backend_.passed, (std::vector<uint64_t>{3}));
  EXPECT_EQ(backend_.reinjected, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(pool_.in_use(), 0u);
}

// A backend with a send path of its own (the raw socket's) is handed each packet that much
// before its departure; a packet of a direction without one still leaves at its time, even
// when it comes out of the wheel together with the other.
TEST_F(DivertLiveDriver, PacketsGoToTheBackendTheirSendLeadEarly) {
  DirectionConfig delayed;
  delayed.delay.delay = milliseconds(1);
  start(delayed, delayed);
  backend_.lead[index_of(Direction::outbound)] = std::chrono::microseconds(10);
  backend_.clock = &clock_;
  const TimePoint t0 = clock_.now();
  backend_.queue(Direction::outbound, 1, t0);
  backend_.queue(Direction::inbound, 2, t0 + std::chrono::microseconds(100));
  backend_.queue(Direction::outbound, 3, t0 + std::chrono::microseconds(103));
  clock_.set(t0 + std::chrono::microseconds(103));
  turn();                                      // read
  clock_.tick = std::chrono::microseconds(1);  // spins move the clock
  clock_.set(t0 + milliseconds(1) - std::chrono::microseconds(40));
  turn();  // spins to 0.99 ms, and hands packet 1 over
  ASSERT_EQ(backend_.reinjected, (std::vector<uint64_t>{1}));
  EXPECT_EQ(driver_->stats().send_lead, std::chrono::microseconds(10));
  EXPECT_GE(backend_.reinjected_at[0], t0 + milliseconds(1) - std::chrono::microseconds(10));
  EXPECT_LE(backend_.reinjected_at[0], t0 + milliseconds(1) - std::chrono::microseconds(8));
  // Packet 3 is due to the backend at 1.093 ms, before packet 2's departure at 1.1 ms: both
  // come out of the wheel at 1.093, and packet 2 is held back until its time.
  clock_.set(t0 + milliseconds(1) + std::chrono::microseconds(93));
  turn();
  clock_.tick = Duration{0};
  ASSERT_EQ(backend_.reinjected, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_GE(backend_.reinjected_at[1], t0 + milliseconds(1) + std::chrono::microseconds(100));
  EXPECT_LE(backend_.reinjected_at[1], t0 + milliseconds(1) + std::chrono::microseconds(102));
  EXPECT_EQ(driver_->stats().lateness.count(), 3u);
}

// The wait after a departure is armed before the departure goes: a spin towards packet 1
// takes it out of the wheel and arms the timer for the lead before packet 2; once packet 1 is
// out, the loop sleeps on that timer (no timer left to program then).
TEST_F(DivertLiveDriver, TheWaitAfterADepartureIsArmedBeforeItGoes) {
  DirectionConfig delayed;
  delayed.delay.delay = milliseconds(1);
  start(delayed, DirectionConfig{});
  backend_.clock = &clock_;
  const TimePoint t0 = clock_.now();
  backend_.queue(Direction::outbound, 1, t0);
  backend_.queue(Direction::outbound, 2, t0 + std::chrono::microseconds(500));
  clock_.set(t0 + std::chrono::microseconds(500));
  turn();  // both read
  clock_.tick = std::chrono::microseconds(1);
  clock_.set(t0 + milliseconds(1) - std::chrono::microseconds(40));
  turn();  // spins to 1 ms, sends packet 1, sleeps until 1.45 ms on the timer armed before
  clock_.tick = Duration{0};
  ASSERT_EQ(backend_.reinjected, (std::vector<uint64_t>{1}));
  EXPECT_GE(backend_.reinjected_at[0], t0 + milliseconds(1));
  EXPECT_LE(driver_->stats().lateness.max(), std::chrono::microseconds(1));
  EXPECT_EQ(driver_->stats().armed_ahead, 1u);
  clock_.set(t0 + milliseconds(1) + std::chrono::microseconds(500));
  turn();
  EXPECT_EQ(backend_.reinjected, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(driver_->stats().armed_ahead, 1u);  // nothing after packet 2
}

// Departures 10 us apart for 1 ms, closer together than the timer's lead (50 us): without a
// limit the loop spins through all of them; with half its time, once the 200 us burst and half
// the time since are spent, it sleeps until a departure rather than spin towards it.
TEST_F(DivertLiveDriver, SpinningTakesAtMostItsShareOfTheTime) {
  DirectionConfig delayed;
  delayed.delay.delay = milliseconds(1);
  for (const double share : {1.0, 0.5}) {
    SCOPED_TRACE(share);
    max_spin_share_ = share;
    start(delayed, DirectionConfig{});
    const TimePoint t0 = clock_.now();
    constexpr uint64_t kPackets = 100;
    for (uint64_t h = 1; h <= kPackets; ++h) {
      backend_.queue(Direction::outbound, h, t0 + (h - 1) * std::chrono::microseconds(10));
    }
    clock_.set(t0 + std::chrono::microseconds(995));
    turn();  // every packet read; the first leaves 5 us from now
    ASSERT_EQ(driver_->stats().spin_ns, 0u);
    clock_.tick = std::chrono::microseconds(1);
    const TimePoint before = clock_.now();
    turn();
    const auto elapsed = static_cast<double>((clock_.now() - before).count());
    clock_.tick = Duration{0};
    const LiveStats& s = driver_->stats();
    const auto spun = static_cast<double>(s.spin_ns);
    if (share == 1.0) {
      EXPECT_EQ(s.spin_limited, 0u);
      EXPECT_GE(spun, 0.7 * elapsed);  // most of the loop's turn (1 ms), which then ends
      EXPECT_GE(elapsed, 1e6);
    } else {
      // The 200 us burst and half the time since, to within one departure.
      EXPECT_GE(s.spin_limited, 1u);
      EXPECT_NEAR(spun, 200e3 + 0.5 * elapsed, 10e3) << "of " << elapsed << " ns";
      EXPECT_LT(elapsed, 1e6);
    }
    EXPECT_LE(s.lateness.max(), std::chrono::microseconds(5));
    clock_.set(t0 + milliseconds(3));
    turn();  // the rest
    EXPECT_EQ(backend_.reinjected.size(), kPackets * (share == 1.0 ? 1 : 2));
  }
}

}  // namespace
}  // namespace badlink

namespace badlink {
namespace {

// The governor sees every packet the loop reads: a flood lowers the loop, quiet raises it, and
// a profile with nothing to time lowers it at once.
TEST_F(DivertLiveDriver, AFloodLowersTheLoopAndQuietRaisesItAgain) {
  PriorityPolicy p;
  p.raised_nice = -20;
  p.flood_pps = 20000;
  p.window = milliseconds(50);
  priority_ = p;
  start(DirectionConfig{}, DirectionConfig{});
  turn();
  uint64_t handle = 0;
  for (int i = 0; i < 10; ++i) {  // 1,500 packets in 50 ms: 30,000/s
    for (int k = 0; k < 150; ++k) {
      backend_.queue(Direction::outbound, ++handle);
    }
    clock_.advance(milliseconds(5));
    turn();
  }
  clock_.advance(milliseconds(1));
  turn();
  EXPECT_EQ(applied_nice_, (std::vector<int>{0}));
  EXPECT_EQ(driver_->stats().nice, 0);
  EXPECT_EQ(driver_->stats().floods, 1u);
  clock_.advance(milliseconds(100));
  backend_.queue(Direction::outbound, ++handle);
  turn();
  EXPECT_EQ(applied_nice_, (std::vector<int>{0, -20}));
  driver_->set_timing_needed(false);
  EXPECT_EQ(applied_nice_, (std::vector<int>{0, -20, 0}));
  EXPECT_EQ(driver_->stats().nice_changes, 3u);
}

}  // namespace
}  // namespace badlink
