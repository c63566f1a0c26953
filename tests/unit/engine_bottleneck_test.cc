// The bottleneck as a real queue: packets served one at a time at the rate in force when each
// reaches the head (so a rate change applies to what is queued), tail drop at its limits,
// outages that drop or hold, and a reconfiguration that keeps the backlog.
#include <gtest/gtest.h>

#include "engine_harness.hh"

namespace badlink {
namespace {

using std::chrono::milliseconds;

constexpr size_t kPayloadFor1250 = 1250 - 28;  // a 1,250-byte IPv4/UDP packet
const TimePoint t0 = from_nanos(1'000'000'000);

DirectionConfig rate(uint64_t bps, QueueLimit limit = {}) {
  DirectionConfig c;
  c.rate.bits_per_second = bps;
  c.queue = limit;
  return c;
}

TEST(Bottleneck, ServesBackToBackAtTheRateThenTheDelay) {
  DirectionConfig c = rate(10'000'000, {.packets = 0, .bytes = 0});
  c.delay.delay = milliseconds(5);
  EngineHarness h(c);
  for (int i = 0; i < 100; ++i) {
    h.submit(t0, kPayloadFor1250);  // 1 ms each at 10 Mbit/s
  }
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 100u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].departure, t0 + milliseconds(static_cast<int>(i) + 1 + 5)) << i;
  }
}

TEST(Bottleneck, TailDropsBeyondThePacketAndByteLimits) {
  EngineHarness by_packets(rate(1'000'000, {.packets = 10, .bytes = 0}));
  for (int i = 0; i < 50; ++i) {
    by_packets.submit(t0, 1000 - 28);  // 8 ms each
  }
  EXPECT_EQ(by_packets.engine().stats(Direction::outbound).dropped_queue, 40u);
  // Once the first has left the queue, one more fits.
  by_packets.submit(t0 + milliseconds(8), 1000 - 28);
  by_packets.submit(t0 + milliseconds(8), 1000 - 28);
  EXPECT_EQ(by_packets.engine().stats(Direction::outbound).dropped_queue, 41u);
  EXPECT_EQ(by_packets.finish().size(), 11u);

  EngineHarness by_bytes(rate(1'000'000, {.packets = 0, .bytes = 5000}));
  for (int i = 0; i < 50; ++i) {
    by_bytes.submit(t0, 1000 - 28);
  }
  EXPECT_EQ(by_bytes.engine().stats(Direction::outbound).dropped_queue, 45u);
}

// 200 packets queued at 10 Mbit/s; at 20 ms the rate drops to 1 Mbit/s: the one being served
// then finishes at the old rate, every later one takes 10 ms -- including those queued before
// the change.
TEST(Bottleneck, ARateDropAppliesToThePacketsAlreadyQueued) {
  EngineHarness h(rate(10'000'000, {.packets = 0, .bytes = 0}));
  for (int i = 0; i < 200; ++i) {
    h.submit(t0, kPayloadFor1250);
  }
  h.advance(t0 + milliseconds(20) + std::chrono::microseconds(500));
  ASSERT_EQ(h.out().size(), 20u);
  EXPECT_EQ(h.engine().queued_packets(0, Direction::outbound), 180u);
  h.engine().reconfigure(DirectionConfigs{rate(1'000'000, {.packets = 0, .bytes = 0}), {}});
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 200u);
  EXPECT_EQ(out[20].departure, t0 + milliseconds(21));  // in service at the change
  for (size_t i = 21; i < out.size(); ++i) {
    EXPECT_EQ(out[i].departure - out[i - 1].departure, milliseconds(10)) << i;
  }
  EXPECT_EQ(h.engine().stats(Direction::outbound).dropped_queue, 0u);
}

TEST(Bottleneck, AnOutageThatDropsDropsEverythingWhileItLasts) {
  EngineHarness h(DirectionConfig{});
  h.submit(t0);
  h.engine().set_outage(0, Direction::outbound, Outage::drop, t0 + milliseconds(1));
  for (int i = 2; i < 10; ++i) {
    h.submit(t0 + milliseconds(i));
  }
  h.engine().set_outage(0, Direction::outbound, Outage::none, t0 + milliseconds(10));
  h.submit(t0 + milliseconds(10));
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(h.engine().stats(Direction::outbound).dropped_outage, 8u);
}

// Held: nothing leaves while the outage lasts; at its end everything leaves in order, at once
// without a rate (then at the rate, with one), and nothing is lost up to the queue's limit.
TEST(Bottleneck, AnOutageThatHoldsReleasesInOrderAtItsEnd) {
  for (const uint64_t bps : {uint64_t{0}, uint64_t{10'000'000}}) {
    EngineHarness h(rate(bps, {.packets = 50, .bytes = 0}));
    h.engine().set_outage(0, Direction::outbound, Outage::hold, t0);
    for (int i = 0; i < 60; ++i) {
      h.submit(t0 + milliseconds(i), kPayloadFor1250);
    }
    EXPECT_TRUE(h.out().empty());
    const TimePoint end = t0 + milliseconds(100);
    h.advance(end);
    h.engine().set_outage(0, Direction::outbound, Outage::none, end);
    const auto out = h.finish();
    ASSERT_EQ(out.size(), 50u) << bps;
    EXPECT_EQ(h.engine().stats(Direction::outbound).dropped_queue, 10u);
    for (size_t i = 0; i < out.size(); ++i) {
      const Duration served = bps == 0 ? Duration{0} : milliseconds(static_cast<int>(i) + 1);
      EXPECT_EQ(out[i].departure, end + served) << bps << " " << i;
      EXPECT_EQ(out[i].arrival, t0 + milliseconds(static_cast<int>(i)));  // in order
    }
  }
}

// A reload that changes nothing about the bottleneck keeps its queue and its timing exactly.
TEST(Bottleneck, AReloadKeepsTheBacklog) {
  const DirectionConfig c = rate(10'000'000, {.packets = 0, .bytes = 0});
  EngineHarness once(c);
  EngineHarness reloaded(c);
  for (int i = 0; i < 50; ++i) {
    once.submit(t0, kPayloadFor1250);
    reloaded.submit(t0, kPayloadFor1250);
  }
  reloaded.advance(t0 + milliseconds(7));
  reloaded.engine().reconfigure(DirectionConfigs{c, {}});
  const auto a = once.finish();
  const auto b = reloaded.finish();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].departure, b[i].departure) << i;
  }
}

// A run cut by reconfigurations that change nothing makes exactly the draws of one long run:
// the loss chain's state, the delay's correlation, the reorder counter and the queue go on.
TEST(Bottleneck, StateCarriesAcrossStepsThatChangeNothing) {
  DirectionConfig c = rate(50'000'000, {.packets = 100, .bytes = 0});
  c.loss = GilbertElliottLoss{.p = 0.05, .r = 0.3, .h = 0.2, .k = 1.0};
  c.delay.delay = milliseconds(20);
  c.delay.jitter = milliseconds(5);
  c.delay.correlation = 0.8;
  c.reorder = 0.1;
  c.reorder_gap = 5;
  EngineHarness once(c, {}, 42);
  EngineHarness stepped(c, {}, 42);
  for (int i = 0; i < 5000; ++i) {
    const TimePoint at = t0 + std::chrono::microseconds(100 * i);
    once.submit(at, 500);
    stepped.submit(at, 500);
    if (i % 97 == 0) {
      stepped.engine().reconfigure(DirectionConfigs{c, {}});
    }
  }
  const auto a = once.finish();
  const auto b = stepped.finish();
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(once.engine().stats(Direction::outbound).dropped_loss, 0u);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].seq, b[i].seq) << i;
    ASSERT_EQ(a[i].departure, b[i].departure) << i;
  }
}

// A change committed for a moment: every packet that arrives before it gets the old delay,
// every one at or after it the new one, whenever the caller gets to the engine; an outage
// that holds starts with it exactly.
TEST(Bottleneck, AChangeAtAMomentSplitsArrivalsExactly) {
  DirectionConfig before;
  before.delay.delay = milliseconds(20);
  DirectionConfig after;
  after.delay.delay = milliseconds(80);
  EngineHarness h(before);
  const TimePoint step = t0 + milliseconds(50);
  const std::vector<DirectionConfigs> next{DirectionConfigs{after, {}}};
  h.engine().commit_at(h.engine().prepare(next), step);
  EXPECT_EQ(h.engine().next_expiry_exact(), step);
  for (int i = 0; i < 100; ++i) {
    h.submit(t0 + milliseconds(i));
  }
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 100u);
  for (const Out& o : out) {
    EXPECT_EQ(o.departure - o.arrival, o.arrival < step ? milliseconds(20) : milliseconds(80));
  }
  // In order of departure still.
  for (size_t i = 1; i < out.size(); ++i) {
    EXPECT_LE(out[i - 1].departure, out[i].departure);
  }

  // A packet that arrived before the change but is taken after it (read late) keeps the delay
  // in force when it arrived.
  EngineHarness late(before);
  late.engine().commit_at(late.engine().prepare(next), step);
  late.advance(step + milliseconds(2));
  late.submit(step - milliseconds(1));
  late.submit(step + milliseconds(1));
  const auto late_out = late.finish();
  ASSERT_EQ(late_out.size(), 2u);
  EXPECT_EQ(late_out[0].departure - late_out[0].arrival, milliseconds(20));
  EXPECT_EQ(late_out[1].departure - late_out[1].arrival, milliseconds(80));

  EngineHarness held(DirectionConfig{});
  const std::vector<std::array<std::optional<Outage>, kDirections>> hold{
      {Outage::hold, std::nullopt}};
  const std::vector<DirectionConfigs> same{DirectionConfigs{}};
  held.engine().commit_at(held.engine().prepare(same, hold), step);
  for (int i = 0; i < 100; ++i) {
    held.submit(t0 + milliseconds(i));
  }
  EXPECT_EQ(held.out().size(), 50u);  // those before the outage, at once
  EXPECT_EQ(held.engine().pending(), 50u);
}

// netem's slot: a packet ready when no slot is open waits for one, min..max after it; every
// packet ready by then leaves with it, up to the slot's packet budget.
TEST(Slot, PacketsLeaveInBurstsAtSlotOpenings) {
  DirectionConfig c;
  c.slot.min = c.slot.max = milliseconds(10);
  EngineHarness h(c);
  for (int i = 0; i < 30; ++i) {
    h.submit(t0 + milliseconds(i));  // one every ms
  }
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 30u);
  // 0..10 ms leave at 10 ms (10 ms is not after the slot: it goes too); 11..21 at 21; 22.. at 32.
  for (size_t i = 0; i < out.size(); ++i) {
    const int slot = i <= 10 ? 10 : i <= 21 ? 21 : 32;
    EXPECT_EQ(out[i].departure, t0 + milliseconds(slot)) << i;
  }
}

TEST(Slot, ABudgetOpensTheNextSlotFromTheLast) {
  DirectionConfig c;
  c.slot.min = c.slot.max = milliseconds(10);
  c.slot.packets = 4;
  EngineHarness h(c);
  for (int i = 0; i < 10; ++i) {
    h.submit(t0);
  }
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 10u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].departure, t0 + milliseconds(10 * (1 + static_cast<int>(i) / 4))) << i;
  }
}

TEST(Slot, OpeningsAreDrawnBetweenMinAndMaxAfterTheDelay) {
  DirectionConfig c;
  c.delay.delay = milliseconds(20);
  c.slot.min = milliseconds(1);
  c.slot.max = milliseconds(5);
  EngineHarness h(c);
  for (int i = 0; i < 2000; ++i) {
    h.submit(t0 + milliseconds(10 * i));  // far apart: each opens its own slot
  }
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 2000u);
  Duration least = Duration::max();
  Duration most{0};
  double sum = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const Duration extra = out[i].departure - (t0 + milliseconds(10 * static_cast<int>(i) + 20));
    least = std::min(least, extra);
    most = std::max(most, extra);
    sum += static_cast<double>(extra.count());
  }
  EXPECT_GE(least, milliseconds(1));
  EXPECT_LE(most, milliseconds(5));
  EXPECT_NEAR(sum / 2000 / 1e6, 3.0, 0.15);  // uniform: mean 3 ms, sd of the mean 0.026 ms
}

}  // namespace
}  // namespace badlink
