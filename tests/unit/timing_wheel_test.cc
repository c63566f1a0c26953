// The timing wheel against a std::multimap reference on random workloads (property test),
// plus its edge cases: FIFO ties, past deadlines, long delays, late ticks.
#include "core/timing_wheel.hh"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <vector>

#include "core/packet_pool.hh"

namespace badlink {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

class WheelTest : public ::testing::Test {
 protected:
  Packet* make(TimePoint departure) {
    Packet* p = pool_.allocate(0);
    p->departure = departure;
    p->seq = seq_++;
    return p;
  }
  std::vector<uint64_t> seqs(PacketList list) {
    std::vector<uint64_t> out;
    list.consume([&](Packet* p) {
      out.push_back(p->seq);
      pool_.release(p);
    });
    return out;
  }
  PacketPool pool_;
  uint64_t seq_ = 0;
};

TEST_F(WheelTest, EqualDeadlinesLeaveInInsertionOrder) {
  TimingWheel wheel;
  const TimePoint t0 = from_nanos(1'000'000);
  wheel.start(t0);
  for (int i = 0; i < 100; ++i) {
    wheel.insert(make(t0 + milliseconds(5)));
  }
  EXPECT_TRUE(seqs(wheel.expire(t0 + milliseconds(5) - nanoseconds(1))).empty());
  const auto out = seqs(wheel.expire(t0 + milliseconds(5)));
  ASSERT_EQ(out.size(), 100U);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i], i);
  }
}

TEST_F(WheelTest, OrderWithinOneTickIsExactNotInsertionOrder) {
  TimingWheel wheel;  // 1 us ticks
  const TimePoint t0 = from_nanos(5'000'000);
  wheel.start(t0);
  wheel.insert(make(t0 + nanoseconds(10'900)));  // seq 0, later in the same microsecond
  wheel.insert(make(t0 + nanoseconds(10'100)));  // seq 1
  wheel.insert(make(t0 + nanoseconds(10'500)));  // seq 2
  const auto out = seqs(wheel.expire(t0 + microseconds(20)));
  EXPECT_EQ(out, (std::vector<uint64_t>{1, 2, 0}));
}

TEST_F(WheelTest, NeverLeavesEarlyAndPastDeadlinesAreDueAtOnce) {
  TimingWheel wheel;
  const TimePoint t0 = from_nanos(1'000'000'000);
  wheel.start(t0);
  wheel.insert(make(t0 + nanoseconds(1'500)));
  EXPECT_TRUE(seqs(wheel.expire(t0 + nanoseconds(1'600))).empty()) << "rounded up to the tick";
  EXPECT_EQ(seqs(wheel.expire(t0 + nanoseconds(2'000))).size(), 1U);
  wheel.insert(make(t0 - seconds(1)));  // already due
  EXPECT_EQ(seqs(wheel.expire(t0 + nanoseconds(2'000))).size(), 1U);
}

TEST_F(WheelTest, LongDelaysAndNextExpiryLowerBound) {
  TimingWheel wheel;
  const TimePoint t0 = from_nanos(1'700'000'000'000'000'000);  // a pcap-era absolute time
  wheel.start(t0);
  wheel.insert(make(t0 + seconds(3600)));
  wheel.insert(make(t0 + seconds(61)));
  TimePoint now = t0;
  std::vector<uint64_t> out;
  int wakes = 0;
  while (!wheel.empty()) {
    const auto next = wheel.next_expiry();
    ASSERT_TRUE(next.has_value());
    ASSERT_GE(*next, now);
    now = *next;
    for (auto s : seqs(wheel.expire(now))) {
      out.push_back(s);
    }
    ASSERT_LT(++wakes, 200) << "next_expiry() must make progress";
  }
  EXPECT_EQ(out, (std::vector<uint64_t>{1, 0}));
  EXPECT_EQ(now, t0 + seconds(3600));
}

// next_expiry() may answer with the start of a higher level's block (up to its span early);
// next_expiry_exact() reads that block for the earliest departure in it.
TEST_F(WheelTest, NextExpiryExactReadsTheHigherLevelBlock) {
  TimingWheel wheel;
  const TimePoint t0 = from_nanos(1'000'000'000);
  wheel.start(t0);
  wheel.insert(make(t0 + microseconds(700) + nanoseconds(300)));
  wheel.insert(make(t0 + microseconds(650)));
  wheel.insert(make(t0 + milliseconds(90)));
  ASSERT_TRUE(wheel.next_expiry().has_value());
  EXPECT_LE(*wheel.next_expiry(), t0 + microseconds(650));
  EXPECT_EQ(wheel.next_expiry_exact(), t0 + microseconds(650));
  EXPECT_TRUE(wheel.expire(t0 + microseconds(649)).empty());
  EXPECT_EQ(wheel.next_expiry_exact(), t0 + microseconds(650));
  EXPECT_EQ(seqs(wheel.expire(t0 + microseconds(650))), (std::vector<uint64_t>{1}));
  EXPECT_EQ(wheel.next_expiry_exact(), t0 + microseconds(701));  // rounded up to its tick
  EXPECT_EQ(seqs(wheel.expire(t0 + microseconds(701))), (std::vector<uint64_t>{0}));
  EXPECT_EQ(wheel.next_expiry_exact(), t0 + milliseconds(90));
  EXPECT_EQ(seqs(wheel.drain()), (std::vector<uint64_t>{2}));
  EXPECT_FALSE(wheel.next_expiry_exact().has_value());
}

// A block of more entries than the wheel reads for it answers with its start, as next_expiry().
TEST_F(WheelTest, NextExpiryExactLeavesABigBlockUnread) {
  TimingWheel wheel;
  const TimePoint t0 = from_nanos(1'000'000'000);
  wheel.start(t0);
  for (size_t i = 0; i <= BasicTimingWheel<Packet*>::kExactScanLimit; ++i) {
    wheel.insert(make(t0 + microseconds(650) + nanoseconds(static_cast<int64_t>(i))));
  }
  EXPECT_EQ(wheel.next_expiry_exact(), wheel.next_expiry());
  EXPECT_LT(*wheel.next_expiry_exact(), t0 + microseconds(650));
  PacketList rest = wheel.drain();
  EXPECT_EQ(rest.size(), BasicTimingWheel<Packet*>::kExactScanLimit + 1);
  rest.consume([&](Packet* p) { pool_.release(p); });
}

TEST_F(WheelTest, LateTicksAreProcessedAndCounted) {
  TimingWheel wheel;
  const TimePoint t0 = from_nanos(0);
  wheel.start(t0);
  for (int i = 0; i < 10; ++i) {
    wheel.insert(make(t0 + milliseconds(i)));
  }
  const auto out = seqs(wheel.expire(t0 + seconds(1)));
  EXPECT_EQ(out.size(), 10U);
  EXPECT_EQ(wheel.stats().late_entries, 10U);
  EXPECT_GE(wheel.stats().max_lateness, milliseconds(990));
}

// Property: for any interleaving of inserts and expiries, the wheel hands out exactly what a
// multimap ordered by (departure, seq) holds with departure tick <= now tick, in that order.
void run_property(uint32_t seed, int operations, int64_t max_delay_ns, int64_t max_step_ns,
                  int64_t start_ns) {
  std::mt19937_64 gen(seed);
  PacketPool pool;
  TimingWheel wheel;
  std::multimap<std::pair<int64_t, uint64_t>, Packet*> reference;
  TimePoint now = from_nanos(start_ns);
  wheel.start(now);
  uint64_t seq = 0;
  std::uniform_int_distribution<int64_t> delay(0, max_delay_ns);
  std::uniform_int_distribution<int64_t> step(0, max_step_ns);
  std::uniform_int_distribution<int> op(0, 9);
  const auto tick = [](int64_t ns) { return (ns + 999) / 1000; };
  for (int i = 0; i < operations; ++i) {
    const int o = op(gen);
    if (o < 6) {
      int64_t d = delay(gen);
      if (o == 0) {
        d = (d / 1000) * 1000;  // exact tick boundaries, many ties
      } else if (o == 1) {
        d = -d / 4;  // a departure in the past
      }
      Packet* p = pool.allocate(0);
      p->departure = now + nanoseconds(d);
      p->seq = seq++;
      reference.emplace(std::make_pair(to_nanos(p->departure), p->seq), p);
      wheel.insert(p);
    } else {
      if (const auto next = wheel.next_expiry()) {
        ASSERT_FALSE(reference.empty());
        const int64_t earliest_tick_ns = tick(reference.begin()->first.first) * 1000;
        const int64_t processed_ns = (to_nanos(now) / 1000 + 1) * 1000;
        ASSERT_LE(to_nanos(*next), std::max(earliest_tick_ns, processed_ns))
            << "next_expiry must never be later than the earliest due tick";
        const auto exact = wheel.next_expiry_exact();
        ASSERT_TRUE(exact.has_value());
        if (earliest_tick_ns >= processed_ns) {
          ASSERT_EQ(to_nanos(*exact), earliest_tick_ns) << "at operation " << i;
        } else {  // overdue: due at the next expire(), whatever its time
          ASSERT_LE(to_nanos(*exact), processed_ns);
        }
      } else {
        ASSERT_TRUE(reference.empty());
      }
      now += nanoseconds(o == 9 ? step(gen) * 50 : step(gen));
      PacketList out = wheel.expire(now);
      const int64_t now_tick = to_nanos(now) / 1000;
      std::vector<Packet*> expected;
      while (!reference.empty() && tick(reference.begin()->first.first) <= now_tick) {
        expected.push_back(reference.begin()->second);
        reference.erase(reference.begin());
      }
      ASSERT_EQ(out.size(), expected.size()) << "at operation " << i;
      size_t k = 0;
      out.consume([&](Packet* p) {
        EXPECT_EQ(p, expected[k]) << "position " << k << " at operation " << i;
        ++k;
        pool.release(p);
      });
    }
    ASSERT_EQ(wheel.size(), reference.size());
  }
  PacketList rest = wheel.drain();
  ASSERT_EQ(rest.size(), reference.size());
  rest.consume([&](Packet* p) {
    EXPECT_EQ(p, reference.begin()->second);
    reference.erase(reference.begin());
    pool.release(p);
  });
}

TEST(WheelProperty, MatchesMultimapShortDelays) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    run_property(seed, 40'000, 300'000, 20'000, 12'345);
  }
}

TEST(WheelProperty, MatchesMultimapLongDelaysAndBigJumps) {
  for (uint32_t seed = 10; seed <= 14; ++seed) {
    run_property(seed, 40'000, 70'000'000'000, 200'000'000, 1'700'000'000'123'456'789);
  }
}

TEST(WheelProperty, MatchesMultimapAcrossHighLevelBoundaries) {
  // Start just before a 2^36-tick boundary so cascades from high levels are exercised.
  run_property(99, 40'000, 5'000'000, 100'000, ((int64_t{1} << 36) - 3) * 1000);
}

}  // namespace
}  // namespace badlink
