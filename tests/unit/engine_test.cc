// The engine end to end on packets in memory: pipeline order, per-direction state, counters,
// determinism, reload, and no allocation per packet.
#include "engine/engine.hh"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine_harness.hh"

namespace badlink {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(Engine, FixedDelayIsExactAndCounted) {
  DirectionConfig c;
  c.delay.delay = milliseconds(20);
  EngineHarness h(c);
  for (int i = 0; i < 1000; ++i) {
    h.submit(from_nanos(1'000'000'000) + microseconds(200 * i));
  }
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 1000U);
  for (const auto& o : out) {
    EXPECT_EQ(o.departure - o.arrival, milliseconds(20));
  }
  const auto& s = h.engine().stats(Direction::outbound);
  EXPECT_EQ(s.received, 1000U);
  EXPECT_EQ(s.sent, 1000U);
  EXPECT_EQ(s.delay.percentile(0.5), milliseconds(20));
  EXPECT_EQ(h.pool().in_use(), 0U);
}

TEST(Engine, DirectionsUseTheirOwnSection) {
  DirectionConfig out_cfg;
  out_cfg.delay.delay = milliseconds(10);
  DirectionConfig in_cfg;
  in_cfg.delay.delay = milliseconds(30);
  EngineHarness h(out_cfg, in_cfg);
  for (int i = 0; i < 100; ++i) {
    h.submit(from_nanos(0) + milliseconds(i), 100,
             i % 2 ? Direction::inbound : Direction::outbound);
  }
  for (const auto& o : h.finish()) {
    EXPECT_EQ(o.departure - o.arrival,
              o.direction == Direction::inbound ? milliseconds(30) : milliseconds(10));
  }
}

TEST(Engine, SameSeedSameDecisionsAndDirectionsIndependent) {
  DirectionConfig c;
  c.delay.delay = milliseconds(50);
  c.delay.jitter = milliseconds(20);
  c.loss = BernoulliLoss{0.1};
  c.duplicate = 0.05;
  auto run = [&](uint64_t seed, bool with_inbound) {
    EngineHarness h(c, c, seed);
    for (int i = 0; i < 5000; ++i) {
      h.submit(from_nanos(0) + microseconds(100 * i));
      if (with_inbound) {
        h.submit(from_nanos(0) + microseconds(100 * i + 50), 100, Direction::inbound);
      }
    }
    std::vector<int64_t> departures;
    for (const auto& o : h.finish()) {
      if (o.direction == Direction::outbound) {
        departures.push_back(to_nanos(o.departure) - to_nanos(o.arrival));
      }
    }
    return departures;
  };
  EXPECT_EQ(run(7, false), run(7, false));
  EXPECT_NE(run(7, false), run(8, false));
  EXPECT_EQ(run(7, false), run(7, true)) << "inbound traffic must not change outbound decisions";
}

TEST(Engine, DuplicatesAreExtraWirePackets) {
  DirectionConfig c;
  c.duplicate = 0.2;
  c.loss = BernoulliLoss{0.1};
  EngineHarness h(c);
  const int n = 100'000;
  for (int i = 0; i < n; ++i) {
    h.submit(from_nanos(0) + microseconds(10 * i));
  }
  const auto out = h.finish();
  const auto& s = h.engine().stats(Direction::outbound);
  EXPECT_EQ(s.sent, out.size());
  EXPECT_EQ(s.received + s.duplicated - s.dropped_loss, s.sent);
  EXPECT_NEAR(static_cast<double>(s.duplicated) / n, 0.2, 4.5 * std::sqrt(0.2 * 0.8 / n));
  // Copies meet loss independently: 10% of received + duplicated.
  const double copies = static_cast<double>(s.received + s.duplicated);
  EXPECT_NEAR(static_cast<double>(s.dropped_loss) / copies, 0.1, 4.5 * std::sqrt(0.09 / copies));
}

TEST(Engine, CorruptionRateAndEveryCorruptedPacketStillVerifies) {
  DirectionConfig c;
  c.corrupt = 0.05;
  PacketPool pool;
  Engine engine(DirectionConfigs{c, c}, 3, pool);
  const auto bytes = testing::make_ip_packet(4, 6, 200);
  const int n = 50'000;
  int corrupted = 0;
  for (int i = 0; i < n; ++i) {
    Packet* p = pool.allocate(bytes.size());
    std::memcpy(p->data(), bytes.data(), bytes.size());
    p->length = p->wire_length = static_cast<uint32_t>(bytes.size());
    p->arrival = from_nanos(i * 1000);
    engine.submit(p);
    PacketList out = engine.expire(p->arrival);
    out.consume([&](Packet* q) {
      if ((q->flags & Packet::kCorrupted) != 0) {
        ++corrupted;
        EXPECT_TRUE(testing::checksums_valid(q->l3()));
        EXPECT_NE(std::memcmp(q->data(), bytes.data(), bytes.size()), 0);
      } else {
        EXPECT_EQ(std::memcmp(q->data(), bytes.data(), bytes.size()), 0);
      }
      pool.release(q);
    });
  }
  EXPECT_EQ(static_cast<uint64_t>(corrupted), engine.stats(Direction::outbound).corrupted);
  EXPECT_NEAR(static_cast<double>(corrupted) / n, 0.05, 4.5 * std::sqrt(0.05 * 0.95 / n));
}

TEST(Engine, ObserverSeesEveryDuplicateAndDrop) {
  struct Counting : EngineObserver {
    void duplicated(const Packet&) override { ++dups; }
    void dropped(const Packet&) override { ++drops; }
    uint64_t dups = 0;
    uint64_t drops = 0;
  } observer;
  DirectionConfig c;
  c.duplicate = 0.3;
  c.loss = BernoulliLoss{0.2};
  EngineHarness h(c);
  h.engine().set_observer(&observer);
  for (int i = 0; i < 10'000; ++i) {
    h.submit(from_nanos(0) + microseconds(i));
  }
  const auto out = h.finish();
  const auto& s = h.engine().stats(Direction::outbound);
  EXPECT_EQ(observer.dups, s.duplicated);
  EXPECT_EQ(observer.drops, s.dropped_loss + s.dropped_queue);
  EXPECT_EQ(out.size() + observer.drops, s.received + observer.dups);
}

TEST(Engine, ReorderGapSendsEveryNthPacketAtOnce) {
  DirectionConfig c;
  c.delay.delay = milliseconds(10);
  c.reorder = 1.0;
  c.reorder_gap = 5;
  EngineHarness h(c);
  for (int i = 0; i < 100; ++i) {
    h.submit(from_nanos(0) + milliseconds(i));
  }
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 100U);
  for (const auto& o : out) {
    const bool immediate = o.departure == o.arrival;
    EXPECT_EQ(immediate, o.seq % 5 == 4) << "seq " << o.seq;
    EXPECT_EQ(immediate, (o.flags & Packet::kReordered) != 0);
  }
  EXPECT_EQ(h.engine().stats(Direction::outbound).reordered, 20U);
}

TEST(Engine, ReorderProbability) {
  DirectionConfig c;
  c.delay.delay = milliseconds(10);
  c.reorder = 0.1;
  EngineHarness h(c);
  const int n = 100'000;
  for (int i = 0; i < n; ++i) {
    h.submit(from_nanos(0) + microseconds(50 * i));
  }
  const auto out = h.finish();
  int early = 0;
  int overtakes = 0;
  uint64_t max_seq = 0;
  for (const auto& o : out) {
    early += o.departure == o.arrival;
    overtakes += o.seq < max_seq;
    max_seq = std::max(max_seq, o.seq);
  }
  EXPECT_NEAR(static_cast<double>(early) / n, 0.1, 4.5 * std::sqrt(0.09 / n));
  EXPECT_GT(overtakes, 0) << "reordered packets leave ahead of earlier ones";
}

TEST(Engine, KeepOrderNeverLetsAPacketOvertake) {
  DirectionConfig c;
  c.delay.delay = milliseconds(50);
  c.delay.jitter = milliseconds(20);
  c.delay.distribution = DelayDistribution::normal;
  auto inversions = [&](bool keep_order) {
    c.delay.keep_order = keep_order;
    EngineHarness h(c);
    for (int i = 0; i < 20'000; ++i) {
      h.submit(from_nanos(0) + microseconds(500 * i));
    }
    int inv = 0;
    uint64_t last = 0;
    bool first = true;
    for (const auto& o : h.finish()) {
      inv += !first && o.seq < last;
      last = o.seq;
      first = false;
    }
    return inv;
  };
  EXPECT_EQ(inversions(true), 0);
  EXPECT_GT(inversions(false), 1000);
}

TEST(Engine, RateThenDelay) {
  DirectionConfig c;
  c.rate.bits_per_second = 10'000'000;
  c.delay.delay = milliseconds(20);
  c.queue.packets = 50;
  EngineHarness h(c);
  // 1250 IP bytes = 1 ms at 10 Mbit/s; 100 arrive at once: 50 fit, 50 tail-dropped.
  for (int i = 0; i < 100; ++i) {
    h.submit(from_nanos(0), 1250 - 28);
  }
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 50U);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].departure, from_nanos(0) + milliseconds(static_cast<int64_t>(i) + 1 + 20));
  }
  EXPECT_EQ(h.engine().stats(Direction::outbound).dropped_queue, 50U);
}

TEST(Engine, MalformedPacketsPassUnchangedAtOnce) {
  DirectionConfig c;
  c.delay.delay = milliseconds(20);
  c.loss = BernoulliLoss{1.0};
  EngineHarness h(c);
  h.submit(from_nanos(0), 100, Direction::outbound, /*malformed=*/true);
  h.submit(from_nanos(0), 100);
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].departure, out[0].arrival);
  EXPECT_EQ(h.engine().stats(Direction::outbound).malformed, 1U);
  EXPECT_EQ(h.engine().stats(Direction::outbound).dropped_loss, 1U);
}

TEST(Engine, LengthBeyondTheWireIsMalformedAndNonIpPassesAsIs) {
  DirectionConfig c;
  c.delay.delay = milliseconds(20);
  PacketPool pool;
  Engine engine(DirectionConfigs{c, c}, 1, pool);
  auto bytes = testing::make_ip_packet(4, 17, 100);
  testing::put16(bytes, 2, 1400);  // claims 1400 bytes; 128 were on the wire
  Packet* liar = pool.allocate(bytes.size());
  std::memcpy(liar->data(), bytes.data(), bytes.size());
  liar->length = liar->wire_length = static_cast<uint32_t>(bytes.size());
  engine.submit(liar);
  Packet* arp = pool.allocate(42);
  arp->length = arp->wire_length = 42;
  arp->flags |= Packet::kNotIp;
  engine.submit(arp);
  PacketList out = engine.expire(TimePoint{});
  EXPECT_EQ(out.size(), 2U);
  out.consume([&](Packet* p) { pool.release(p); });
  EXPECT_EQ(engine.stats(Direction::outbound).malformed, 1U);
  EXPECT_EQ(engine.stats(Direction::outbound).non_ip, 1U);
}

TEST(Engine, ReloadKeepsScheduledPacketsAndAppliesTheNewProfileWhole) {
  DirectionConfig slow;
  slow.delay.delay = milliseconds(100);
  DirectionConfig fast;
  fast.delay.delay = milliseconds(10);
  EngineHarness h(slow);
  h.submit(from_nanos(0));
  h.engine().reconfigure(DirectionConfigs{fast, fast});
  h.submit(from_nanos(0) + milliseconds(1));
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 2U);
  // keep_order: the new packet may not overtake the one already scheduled.
  EXPECT_EQ(out[0].departure, from_nanos(0) + milliseconds(100));
  EXPECT_EQ(out[1].departure, from_nanos(0) + milliseconds(100));
  EXPECT_EQ(h.engine().config(Direction::outbound).delay.delay, milliseconds(10));
}

TEST(Engine, NoAllocationPerPacketOnceWarm) {
  DirectionConfig c;
  c.delay.delay = milliseconds(5);
  c.delay.jitter = milliseconds(2);
  c.duplicate = 0.1;
  c.loss = BernoulliLoss{0.05};
  EngineHarness h(c);
  for (int i = 0; i < 20'000; ++i) {
    h.submit(from_nanos(0) + microseconds(10 * i));
  }
  const size_t chunks = h.pool().chunk_allocations();
  for (int i = 20'000; i < 200'000; ++i) {
    h.submit(from_nanos(0) + microseconds(10 * i));
  }
  EXPECT_EQ(h.pool().chunk_allocations(), chunks);
  h.finish();
}

}  // namespace
}  // namespace badlink
