// GSO super-packets in the engine: every impairment acts per wire packet. A super-packet goes
// on whole only when no segment is lost, duplicated or corrupted and nothing times its wire
// packets apart; otherwise it is cut into valid wire packets, and the counters count wire packets.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/engine.hh"
#include "test_packets.hh"

namespace badlink {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr uint16_t kMss = 1460;     // IPv4 + TCP without options: 40 header bytes
constexpr uint32_t kSegments = 10;  // per super-packet
constexpr size_t kPayload = kMss * (kSegments - 1) + 700;

struct Counting final : EngineObserver {
  int duplicated_calls = 0;
  int dropped_calls = 0;
  void duplicated(const Packet&) override { ++duplicated_calls; }
  void dropped(const Packet&) override { ++dropped_calls; }
};

struct Sent {
  uint16_t segments;
  uint8_t flags;
  TimePoint departure;
  std::vector<std::byte> bytes;
};

class SuperHarness {
 public:
  explicit SuperHarness(const DirectionConfig& c, uint64_t seed = 3)
      : engine_(DirectionConfigs{c, DirectionConfig{}}, seed, pool_) {
    engine_.set_observer(&observer_);
  }

  // `headers_only`: as a backend copies a packet the kernel keeps, for a delay-only direction.
  void submit(TimePoint at, bool headers_only = false) {
    collect(engine_.expire(at));
    const auto bytes = testing::make_ip_packet(4, 6, kPayload);
    const size_t keep = headers_only ? 40 : bytes.size();
    Packet* p = pool_.allocate(keep);
    std::memcpy(p->data(), bytes.data(), keep);
    p->length = static_cast<uint32_t>(keep);
    p->wire_length = static_cast<uint32_t>(bytes.size());
    p->arrival = at;
    p->address.gso_size = kMss;
    p->address.checksum_partial = true;
    engine_.submit(p);
  }

  std::vector<Sent> finish() {
    collect(engine_.drain());
    return out_;
  }

  const DirectionStats& stats() const { return engine_.stats(Direction::outbound); }
  Counting& observer() { return observer_; }
  PacketPool& pool() { return pool_; }

 private:
  void collect(PacketList list) {
    list.consume([&](Packet* p) {
      const auto b = p->bytes();
      out_.push_back({p->segments, p->flags, p->departure, {b.begin(), b.end()}});
      pool_.release(p);
    });
  }
  PacketPool pool_;
  Engine engine_;
  Counting observer_;
  std::vector<Sent> out_;
};

TEST(EngineGso, ConstantDelayPassesTheSuperPacketWholeAndCountsWirePackets) {
  DirectionConfig c;
  c.delay.delay = milliseconds(20);
  SuperHarness h(c);
  h.submit(from_nanos(1'000'000));
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].segments, kSegments);
  EXPECT_EQ(out[0].flags & Packet::kSegment, 0);
  EXPECT_EQ(out[0].bytes.size(), 40 + kPayload);
  EXPECT_EQ(h.stats().received, kSegments);
  EXPECT_EQ(h.stats().sent, kSegments);
  EXPECT_EQ(h.stats().bytes_received, kPayload + 40 * kSegments);
  EXPECT_EQ(h.stats().bytes_sent, h.stats().bytes_received);
  EXPECT_EQ(h.observer().dropped_calls, 0);
  EXPECT_EQ(h.pool().in_use(), 0U);
}

TEST(EngineGso, HeadersOnlyCopyStillCountsEveryWirePacket) {
  DirectionConfig c;
  c.delay.delay = milliseconds(20);
  SuperHarness h(c);
  h.submit(from_nanos(0), true);
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].segments, kSegments);
  EXPECT_EQ(out[0].bytes.size(), 40U);
  EXPECT_EQ(h.stats().sent, kSegments);
  EXPECT_EQ(h.stats().bytes_sent, kPayload + 40 * kSegments);
}

TEST(EngineGso, CutSegmentsAreValidWirePacketsInOrder) {
  DirectionConfig c;
  c.delay.delay = milliseconds(5);
  c.duplicate = 1.0;  // every wire packet twice: the super-packet must be cut
  SuperHarness h(c);
  h.submit(from_nanos(0));
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 2 * kSegments);
  size_t payload = 0;
  for (const Sent& s : out) {
    EXPECT_EQ(s.segments, 1);
    EXPECT_NE(s.flags & Packet::kSegment, 0);
    EXPECT_TRUE(testing::checksums_valid(s.bytes));
    EXPECT_LE(s.bytes.size(), 40U + kMss);
    payload += s.bytes.size() - 40;
  }
  EXPECT_EQ(payload, 2 * kPayload);
  EXPECT_EQ(h.stats().received, kSegments);
  EXPECT_EQ(h.stats().duplicated, kSegments);
  EXPECT_EQ(h.stats().sent, 2 * kSegments);
  // The backend's super-packet is answered once (dropped: its wire packets travel instead);
  // the segments' own fates are the engine's business.
  EXPECT_EQ(h.observer().dropped_calls, 1);
  EXPECT_EQ(h.observer().duplicated_calls, 0);
  EXPECT_EQ(h.pool().in_use(), 0U);
}

TEST(EngineGso, LossIsPerWirePacketAndOnlyLossySuperPacketsAreCut) {
  DirectionConfig c;
  c.delay.delay = milliseconds(10);
  const double p = 0.01;
  c.loss = BernoulliLoss{p};
  SuperHarness h(c, 11);
  const int supers = 5000;
  for (int i = 0; i < supers; ++i) {
    h.submit(from_nanos(0) + microseconds(100 * i));
  }
  const auto out = h.finish();
  const double wire = double{supers} * kSegments;
  const auto& s = h.stats();
  EXPECT_EQ(s.received, static_cast<uint64_t>(wire));
  EXPECT_EQ(s.sent + s.dropped_loss, s.received);
  EXPECT_NEAR(static_cast<double>(s.dropped_loss), wire * p, 4.5 * std::sqrt(wire * p * (1 - p)));
  size_t whole = 0;
  for (const Sent& o : out) {
    whole += (o.flags & Packet::kSegment) == 0 ? 1 : 0;
  }
  const double q = std::pow(1 - p, kSegments);  // no segment of ten lost
  EXPECT_NEAR(static_cast<double>(whole), supers * q, 4.5 * std::sqrt(supers * q * (1 - q)));
  EXPECT_EQ(h.pool().in_use(), 0U);
}

TEST(EngineGso, RateTimesEachWirePacket) {
  DirectionConfig c;
  c.rate.bits_per_second = 10'000'000;
  SuperHarness h(c);
  h.submit(from_nanos(0));
  const auto out = h.finish();
  ASSERT_EQ(out.size(), kSegments);
  for (size_t i = 1; i < out.size(); ++i) {
    // Each wire packet leaves when its own bytes have crossed the bottleneck.
    const auto gap = out[i].departure - out[i - 1].departure;
    const auto expected = std::chrono::nanoseconds(out[i].bytes.size() * 8 * 100);
    EXPECT_EQ(gap, expected) << "segment " << i;
  }
}

TEST(EngineGso, NoAllocationOnceWarm) {
  DirectionConfig c;
  c.delay.delay = milliseconds(1);
  c.loss = BernoulliLoss{0.05};
  SuperHarness h(c);
  for (int i = 0; i < 100; ++i) {
    h.submit(from_nanos(0) + microseconds(100 * i));
  }
  const size_t reserved = h.pool().bytes_reserved();
  for (int i = 100; i < 2000; ++i) {
    h.submit(from_nanos(0) + microseconds(100 * i));
  }
  h.finish();
  EXPECT_EQ(h.pool().bytes_reserved(), reserved);
}

}  // namespace
}  // namespace badlink
