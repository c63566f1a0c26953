// Offline replay end to end: captures made here with libpcap, replayed through the engine,
// read back with libpcap, and checked packet by packet against the configured impairment.
#include "io/replay.hh"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <stdlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "io/json_text.hh"
#include "io/pcap_file.hh"
#include "io/stats_json.hh"
#include "pcap_helpers.hh"
#include "profile/profile.hh"
#include "temp_dir.hh"
#include "test_packets.hh"

namespace badlink {
namespace {

namespace fs = std::filesystem;
using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr int64_t kEpoch = 1'700'000'000'000'000'000;  // a capture from late 2023, in ns

using testing::TempDir;

using Frame = testing::PcapFrame;
using Capture = testing::PcapCapture;

void write_capture(const fs::path& file, int link_type, const std::vector<Frame>& frames,
                   int snaplen = 65535) {
  testing::write_with_libpcap(file, link_type, frames, PCAP_TSTAMP_PRECISION_NANO, snaplen);
}

Capture read_capture(const fs::path& file) { return testing::read_with_libpcap(file); }

std::vector<std::byte> file_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

std::vector<std::byte> with_ethernet(const std::vector<std::byte>& ip, uint16_t ethertype) {
  std::vector<std::byte> f(14);
  for (size_t i = 0; i < 12; ++i) {
    f[i] = static_cast<std::byte>(i < 6 ? 0x02 : 0x04);
  }
  f[12] = static_cast<std::byte>(ethertype >> 8);
  f[13] = static_cast<std::byte>(ethertype & 0xff);
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

// Ethernet frames carrying IPv4 (even i) and IPv6 (odd i) UDP, source port 10000 + i so each
// packet can be told apart, arriving at irregular nanosecond times.
std::vector<Frame> ethernet_udp(size_t count, int64_t spacing_ns = 137'001) {
  std::vector<Frame> frames;
  for (size_t i = 0; i < count; ++i) {
    const int version = i % 2 == 0 ? 4 : 6;
    const auto ip = testing::make_ip_packet(
        version, 17, 64 + i % 100, static_cast<uint16_t>(10000 + i), 5000, static_cast<uint8_t>(i));
    frames.push_back({kEpoch + static_cast<int64_t>(i) * spacing_ns + static_cast<int64_t>(i % 7),
                      with_ethernet(ip, version == 4 ? 0x0800 : 0x86dd), 0});
  }
  return frames;
}

uint16_t port_of(const Frame& f, size_t l3_offset) {
  const auto ip = std::span<const std::byte>(f.bytes).subspan(l3_offset);
  const IpHeaders h = parse_ip(ip);
  return h.src_port;
}

DirectionConfigs outbound(const DirectionConfig& c) {
  DirectionConfigs configs{};
  configs[index_of(Direction::outbound)] = c;
  return configs;
}

DirectionConfig fixed_delay(Duration d) {
  DirectionConfig c;
  c.delay.delay = d;
  return c;
}

// One link that takes every packet, as a profile in the classic form without [match] has.
std::vector<Link> one_link(const DirectionConfigs& configs) {
  Link link;
  link.name = "default";
  link.outbound = configs[index_of(Direction::outbound)];
  link.inbound = configs[index_of(Direction::inbound)];
  return {link};
}

ReplayReport run_replay(const fs::path& in, const fs::path& out, const DirectionConfigs& configs,
                        uint64_t seed = 1, Direction direction = Direction::outbound) {
  ReplaySetup setup;
  setup.input = in;
  setup.output = out;
  setup.links = one_link(configs);
  setup.seed = seed;
  setup.direction = direction;
  setup.profile_name = "test";
  return replay(setup);
}

// Independent of the engine's helpers: RFC 768/1071 UDP checksum over the pseudo-header. The
// UDP length is taken from the IP header, since a flipped bit may land in the UDP length field
// itself (the corruptor fixes the checksum over the bytes present, as a receiver sums them).
bool udp_checksum_ok(std::span<const std::byte> ip) {
  const auto u8 = [&](size_t i) { return std::to_integer<uint32_t>(ip[i]); };
  const auto u16 = [&](size_t i) { return (u8(i) << 8) | u8(i + 1); };
  uint64_t sum = 0;
  size_t l4 = 0;
  size_t udp_length = 0;
  if ((u8(0) >> 4) == 4) {
    l4 = (u8(0) & 0x0f) * 4;
    udp_length = u16(2) - l4;
    for (size_t i = 12; i < 20; i += 2) {
      sum += u16(i);
    }
  } else {
    l4 = 40;
    udp_length = u16(4);
    for (size_t i = 8; i < 40; i += 2) {
      sum += u16(i);
    }
  }
  if (l4 + udp_length > ip.size()) {
    return false;
  }
  sum += 17 + udp_length;
  for (size_t i = 0; i < udp_length; i += 2) {
    sum += i + 1 < udp_length ? u16(l4 + i) : (u8(l4 + i) << 8);
  }
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return sum == 0xffff;
}

bool ipv4_header_checksum_ok(std::span<const std::byte> ip) {
  if ((std::to_integer<unsigned>(ip[0]) >> 4) != 4) {
    return true;
  }
  const size_t ihl = (std::to_integer<size_t>(ip[0]) & 0x0f) * 4;
  uint32_t sum = 0;
  for (size_t i = 0; i < ihl; i += 2) {
    sum += (std::to_integer<uint32_t>(ip[i]) << 8) | std::to_integer<uint32_t>(ip[i + 1]);
  }
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return sum == 0xffff;
}

// --- delay: exact shift, order kept -------------------------------------------------------

TEST(Replay, FixedDelayShiftsEveryEthernetPacketExactly) {
  TempDir dir;
  const auto frames = ethernet_udp(300);
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);

  const ReplayReport r =
      run_replay(dir / "in.pcap", dir / "out.pcap", outbound(fixed_delay(milliseconds(40))));

  const Capture out = read_capture(dir / "out.pcap");
  EXPECT_EQ(out.link_type, DLT_EN10MB);
  ASSERT_EQ(out.frames.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(out.frames[i].nanos, frames[i].nanos + 40'000'000) << "packet " << i;
    EXPECT_EQ(out.frames[i].bytes, frames[i].bytes) << "packet " << i;
    EXPECT_EQ(out.frames[i].wire_length, frames[i].bytes.size());
  }
  EXPECT_EQ(r.input_packets, 300U);
  EXPECT_EQ(r.output_packets, 300U);
  EXPECT_EQ(r.link_type, DLT_EN10MB);
  EXPECT_FALSE(r.truncated_input);
  EXPECT_EQ(r.non_ip, 0U);
  const DirectionStats& s = r.links.at(0).directions[index_of(Direction::outbound)];
  EXPECT_EQ(s.received, 300U);
  EXPECT_EQ(s.sent, 300U);
  EXPECT_EQ(s.malformed, 0U);
  EXPECT_EQ(s.delay.max(), milliseconds(40));
  EXPECT_EQ(r.links.at(0).directions[index_of(Direction::inbound)].received, 0U);
  EXPECT_FALSE(fs::exists(dir / "out.pcap.tmp"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2)
      << "no temporary file is left behind";
}

// The same path the CLI takes: profile text -> validated configs -> replay.
TEST(Replay, ThroughAParsedProfile) {
  TempDir dir;
  const auto frames = ethernet_udp(50);
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  const Profile profile = parse_profile(
      "[profile]\nname = \"replay-test\"\nseed = 3\n\n[inbound]\ndelay = \"12.5ms\"\n", "t.toml");
  ReplaySetup setup;
  setup.input = dir / "in.pcap";
  setup.output = dir / "out.pcap";
  setup.links = profile.links;
  setup.seed = profile.seed.value_or(0);
  setup.direction = Direction::inbound;
  setup.profile_name = profile.name;
  const ReplayReport r = replay(setup);
  EXPECT_EQ(r.profile_name, "replay-test");
  const Capture out = read_capture(dir / "out.pcap");
  ASSERT_EQ(out.frames.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(out.frames[i].nanos, frames[i].nanos + 12'500'000);
  }
}

// Replays `frames` through `profile_text`'s links.
ReplayReport replay_profile(const fs::path& in, const fs::path& out, const char* profile_text) {
  const Profile profile = parse_profile(profile_text, "test.toml");
  ReplaySetup setup;
  setup.input = in;
  setup.output = out;
  setup.links = profile.links;
  setup.seed = 1;
  setup.profile_name = profile.name;
  return replay(setup);
}

// The timeline starts at the first packet: every packet before the 3 s step keeps 20 ms, every
// one from it on gets 80 ms.
TEST(Replay, AScheduleStepAppliesFromItsTime) {
  TempDir dir;
  const auto frames = ethernet_udp(6000, 1'000'000);  // one per ms for 6 s
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  const ReplayReport r = replay_profile(dir / "in.pcap", dir / "out.pcap", R"([profile]
name = "step"
[outbound]
delay = "20ms"
[[schedule]]
at = "3s"
outbound = { delay = "80ms" }
)");
  EXPECT_EQ(r.timeline_changes, 1u);
  const Capture out = read_capture(dir / "out.pcap");
  ASSERT_EQ(out.frames.size(), frames.size());
  std::map<uint16_t, int64_t> sent_at;
  for (const Frame& f : out.frames) {
    sent_at[port_of(f, 14)] = f.nanos;
  }
  for (size_t i = 0; i < frames.size(); ++i) {
    const int64_t delay = sent_at.at(port_of(frames[i], 14)) - frames[i].nanos;
    const bool after = frames[i].nanos - frames[0].nanos >= 3'000'000'000;
    EXPECT_EQ(delay, after ? 80'000'000 : 20'000'000) << i;
  }
}

// 200 packets queued at 10 Mbit/s; the rate drops to 1 Mbit/s at 20.5 ms: from the one after
// the packet then in service, they leave 10 ms apart.
TEST(Replay, ARateDropAppliesToWhatIsQueued) {
  TempDir dir;
  std::vector<Frame> frames;
  for (size_t i = 0; i < 200; ++i) {
    const auto ip = testing::make_ip_packet(4, 17, 1250 - 28, static_cast<uint16_t>(10000 + i), 5000);
    frames.push_back({kEpoch + static_cast<int64_t>(i), with_ethernet(ip, 0x0800), 0});
  }
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  const ReplayReport r = replay_profile(dir / "in.pcap", dir / "out.pcap", R"([profile]
name = "rate-drop"
[outbound]
rate = "10mbit"
queue_limit = 1000
[[schedule]]
at = "20500us"
outbound = { rate = "1mbit" }
)");
  const Capture out = read_capture(dir / "out.pcap");
  ASSERT_EQ(out.frames.size(), 200u);
  EXPECT_EQ(r.links.at(0).directions[0].dropped_queue, 0u);
  for (size_t i = 22; i < out.frames.size(); ++i) {
    EXPECT_EQ(out.frames[i].nanos - out.frames[i - 1].nanos, 10'000'000) << i;
  }
  EXPECT_LT(out.frames[19].nanos - out.frames[18].nanos, 1'000'001);
}

// A saturating capture through a packet-delivery trace (the shipped LTE-like one): in every
// 100 ms window while the queue is backlogged, the bytes that leave are the trace's
// opportunities in that window times 1,500 -- exactly.
TEST(Replay, ADeliveryTraceServesExactlyItsOpportunities) {
  TempDir dir;
  const fs::path trace = fs::path(BADLINK_SOURCE_DIR) / "profiles/traces/lte-like.down";
  std::ofstream(dir / "p.toml") << "[profile]\nname = \"trace\"\n[outbound]\nrate = { trace = \""
                                << trace.string() << "\" }\nqueue_limit = 100000\n";
  std::vector<Frame> frames;
  constexpr size_t kPackets = 40'000;  // 8,000 a second for 5 s: 96 Mbit/s, past any capacity
  for (size_t i = 0; i < kPackets; ++i) {
    const auto ip = testing::make_ip_packet(4, 17, 1500 - 28, static_cast<uint16_t>(i), 5000);
    frames.push_back({kEpoch + static_cast<int64_t>(i) * 125'000, with_ethernet(ip, 0x0800), 0});
  }
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  const Profile profile = load_profile(dir / "p.toml");
  ReplaySetup setup;
  setup.input = dir / "in.pcap";
  setup.output = dir / "out.pcap";
  setup.links = profile.links;
  const ReplayReport r = replay(setup);
  EXPECT_EQ(r.links.at(0).directions[0].dropped_queue, 0u);
  const Capture out = read_capture(dir / "out.pcap");
  ASSERT_EQ(out.frames.size(), kPackets);
  const DeliveryTrace& t = *profile.single_link().outbound.rate.trace;
  constexpr int64_t kWindow = 100'000'000;
  constexpr size_t kWindows = 45;  // backlogged throughout: input ends at 5 s
  std::vector<uint64_t> sent(kWindows), offered(kWindows);
  for (const Frame& f : out.frames) {
    const auto k = static_cast<size_t>((f.nanos - kEpoch) / kWindow);
    if (k < kWindows) {
      sent[k] += f.bytes.size() - 14;
    }
  }
  for (const uint64_t ms : t.ms) {
    const auto k = static_cast<size_t>(ms / 100);
    if (k < kWindows) {
      offered[k] += kDeliveryBytes;
    }
  }
  for (size_t k = 0; k < kWindows; ++k) {
    EXPECT_EQ(sent[k], offered[k]) << "window " << k;
  }
  // And it is not a constant: the trace's capacity varies.
  EXPECT_GT(*std::max_element(offered.begin(), offered.end()),
            2 * *std::min_element(offered.begin(), offered.end()));
}

// An outage of 2 s: dropped, a gap with nothing in it; held, nothing lost and the held
// packets leave in order right after.
TEST(Replay, OutagesDropOrHold) {
  TempDir dir;
  const auto frames = ethernet_udp(5000, 1'000'000);  // one per ms for 5 s
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  for (const std::string mode : {"drop", "hold"}) {
    const std::string profile = R"([profile]
name = "outage"
[outbound]
delay = "10ms"
queue_limit = 5000
[[schedule]]
at = "1s"
outage = { duration = "2s", mode = ")" + mode + R"(" }
)";
    const ReplayReport r = replay_profile(dir / "in.pcap", dir / "out.pcap", profile.c_str());
    const Capture out = read_capture(dir / "out.pcap");
    const int64_t start = frames[0].nanos;
    if (mode == "drop") {
      EXPECT_EQ(out.frames.size(), 3000u);
      EXPECT_EQ(r.links.at(0).directions[0].dropped_outage, 2000u);
      for (const Frame& f : out.frames) {
        const int64_t t = f.nanos - start;
        EXPECT_TRUE(t < 1'010'000'000 || t >= 3'010'000'000) << t;
      }
    } else {
      ASSERT_EQ(out.frames.size(), 5000u);
      size_t held = 0;
      for (size_t i = 1; i < out.frames.size(); ++i) {
        EXPECT_LT(port_of(out.frames[i - 1], 14), port_of(out.frames[i], 14)) << "in order " << i;
        if (out.frames[i].nanos - start == 3'010'000'000) {
          ++held;
        }
      }
      EXPECT_EQ(held, 2000u);  // released together at the end, then the delay
    }
  }
}

TEST(Replay, FixedDelayOnRawIpv6Tcp) {
  TempDir dir;
  std::vector<Frame> frames;
  for (size_t i = 0; i < 100; ++i) {
    frames.push_back({kEpoch + static_cast<int64_t>(i) * 1'000'003,
                      testing::make_ip_packet(6, 6, 10 * i, static_cast<uint16_t>(20000 + i), 443),
                      0});
  }
  write_capture(dir / "in.pcap", DLT_RAW, frames);

  const ReplayReport r =
      run_replay(dir / "in.pcap", dir / "out.pcap", outbound(fixed_delay(microseconds(2500))));
  const Capture out = read_capture(dir / "out.pcap");
  EXPECT_EQ(out.link_type, DLT_RAW);
  ASSERT_EQ(out.frames.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(out.frames[i].nanos, frames[i].nanos + 2'500'000);
    EXPECT_EQ(out.frames[i].bytes, frames[i].bytes);
  }
  EXPECT_EQ(r.links.at(0).directions[index_of(Direction::outbound)].sent, 100U);
}

TEST(Replay, InboundDirectionUsesTheInboundConfig) {
  TempDir dir;
  const auto frames = ethernet_udp(20);
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  DirectionConfigs configs{};
  configs[index_of(Direction::outbound)] = fixed_delay(milliseconds(1));
  configs[index_of(Direction::inbound)] = fixed_delay(milliseconds(7));
  const ReplayReport r =
      run_replay(dir / "in.pcap", dir / "out.pcap", configs, 1, Direction::inbound);
  const Capture out = read_capture(dir / "out.pcap");
  ASSERT_EQ(out.frames.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(out.frames[i].nanos, frames[i].nanos + 7'000'000);
  }
  EXPECT_EQ(r.links.at(0).directions[index_of(Direction::inbound)].sent, 20U);
  EXPECT_EQ(r.links.at(0).directions[index_of(Direction::outbound)].received, 0U);
}

// Other link layers: the IP header is found behind a VLAN tag and behind Linux cooked headers,
// so packets are impaired, not passed on as non-IP.
TEST(Replay, VlanAndCookedCapturesAreImpaired) {
  struct Case {
    int link_type;
    std::vector<std::byte> header;  // everything before the IPv4 header
  };
  std::vector<std::byte> vlan = with_ethernet({}, 0x8100);
  for (const int v : {0x00, 0x07, 0x08, 0x00}) {
    vlan.push_back(static_cast<std::byte>(v));
  }
  std::vector<std::byte> sll(16, std::byte{0});
  sll[14] = std::byte{0x08};
  std::vector<std::byte> sll2(20, std::byte{0});
  sll2[0] = std::byte{0x08};
  const Case cases[] = {{DLT_EN10MB, vlan}, {DLT_LINUX_SLL, sll}, {DLT_LINUX_SLL2, sll2}};
  for (const Case& c : cases) {
    SCOPED_TRACE("link type " + std::to_string(c.link_type));
    TempDir dir;
    std::vector<Frame> frames;
    for (size_t i = 0; i < 10; ++i) {
      auto f = c.header;
      const auto ip = testing::make_ip_packet(4, 17, 30, static_cast<uint16_t>(3000 + i), 53);
      f.insert(f.end(), ip.begin(), ip.end());
      frames.push_back({kEpoch + static_cast<int64_t>(i) * 1000, f, 0});
    }
    write_capture(dir / "in.pcap", c.link_type, frames);
    const ReplayReport r =
        run_replay(dir / "in.pcap", dir / "out.pcap", outbound(fixed_delay(milliseconds(3))));
    EXPECT_EQ(r.non_ip, 0U);
    EXPECT_EQ(r.links.at(0).directions[0].malformed, 0U);
    const Capture out = read_capture(dir / "out.pcap");
    EXPECT_EQ(out.link_type, c.link_type);
    ASSERT_EQ(out.frames.size(), frames.size());
    for (size_t i = 0; i < frames.size(); ++i) {
      EXPECT_EQ(out.frames[i].nanos, frames[i].nanos + 3'000'000);
      EXPECT_EQ(out.frames[i].bytes, frames[i].bytes);
    }
  }
}

// --- loss: reproducible, and the counts agree -----------------------------------------------

TEST(Replay, LossWithTheSameSeedGivesByteIdenticalOutput) {
  TempDir dir;
  const auto frames = ethernet_udp(1000);
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  DirectionConfig c = fixed_delay(milliseconds(5));
  c.loss = BernoulliLoss{0.3};

  const ReplayReport a = run_replay(dir / "in.pcap", dir / "a.pcap", outbound(c), 42);
  const ReplayReport b = run_replay(dir / "in.pcap", dir / "b.pcap", outbound(c), 42);
  const ReplayReport other = run_replay(dir / "in.pcap", dir / "c.pcap", outbound(c), 43);

  EXPECT_EQ(file_bytes(dir / "a.pcap"), file_bytes(dir / "b.pcap"));
  EXPECT_NE(file_bytes(dir / "a.pcap"), file_bytes(dir / "c.pcap"));
  EXPECT_EQ(a.seed, 42U);
  EXPECT_EQ(other.seed, 43U);

  const DirectionStats& s = a.links.at(0).directions[index_of(Direction::outbound)];
  const Capture out = read_capture(dir / "a.pcap");
  EXPECT_EQ(out.frames.size(), s.sent);
  EXPECT_EQ(a.output_packets, s.sent);
  EXPECT_EQ(s.received, 1000U);
  EXPECT_EQ(s.sent + s.dropped_loss, s.received);
  // 4.5 sigma of Binomial(1000, 0.3): 300 +- 65.
  EXPECT_NEAR(static_cast<double>(s.dropped_loss), 300.0, 65.0);

  // The survivors are input packets, unchanged, 5 ms late, in their original order.
  std::map<uint16_t, const Frame*> by_port;
  for (const Frame& f : frames) {
    by_port[port_of(f, 14)] = &f;
  }
  uint16_t previous = 0;
  for (const Frame& f : out.frames) {
    const uint16_t port = port_of(f, 14);
    ASSERT_TRUE(by_port.count(port));
    EXPECT_GT(port, previous);
    previous = port;
    EXPECT_EQ(f.bytes, by_port[port]->bytes);
    EXPECT_EQ(f.nanos, by_port[port]->nanos + 5'000'000);
  }
}

// --- duplication -----------------------------------------------------------------------------

TEST(Replay, DuplicatesAppearInTheOutputAndInTheSentCount) {
  TempDir dir;
  const auto frames = ethernet_udp(500);
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  DirectionConfig c = fixed_delay(milliseconds(2));
  c.duplicate = 0.2;

  const ReplayReport r = run_replay(dir / "in.pcap", dir / "out.pcap", outbound(c), 9);
  const DirectionStats& s = r.links.at(0).directions[index_of(Direction::outbound)];
  const Capture out = read_capture(dir / "out.pcap");
  EXPECT_GT(s.duplicated, 0U);
  EXPECT_EQ(out.frames.size(), s.sent);
  EXPECT_EQ(s.sent, s.received + s.duplicated);
  EXPECT_EQ(r.output_packets, s.sent);

  std::map<uint16_t, int> copies;
  for (const Frame& f : out.frames) {
    ++copies[port_of(f, 14)];
  }
  EXPECT_EQ(copies.size(), frames.size());
  uint64_t extra = 0;
  for (const auto& [port, n] : copies) {
    EXPECT_LE(n, 2);
    extra += static_cast<uint64_t>(n - 1);
  }
  EXPECT_EQ(extra, s.duplicated);
  for (size_t i = 1; i < out.frames.size(); ++i) {
    EXPECT_LE(out.frames[i - 1].nanos, out.frames[i].nanos);
  }
}

// --- corruption --------------------------------------------------------------------------------

TEST(Replay, CorruptionFlipsOneBitBeyondTheIpHeaderAndKeepsChecksumsValid) {
  TempDir dir;
  const auto frames = ethernet_udp(200);
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  DirectionConfig c = fixed_delay(milliseconds(1));
  c.corrupt = 1.0;

  const ReplayReport r = run_replay(dir / "in.pcap", dir / "out.pcap", outbound(c), 5);
  EXPECT_EQ(r.links.at(0).directions[index_of(Direction::outbound)].corrupted, frames.size());
  const Capture out = read_capture(dir / "out.pcap");
  ASSERT_EQ(out.frames.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    SCOPED_TRACE("packet " + std::to_string(i));
    const auto& before = frames[i].bytes;
    const auto& after = out.frames[i].bytes;
    ASSERT_EQ(before.size(), after.size());
    const auto ip = std::span<const std::byte>(after).subspan(14);
    EXPECT_TRUE(ipv4_header_checksum_ok(ip));
    EXPECT_TRUE(udp_checksum_ok(ip));

    const size_t l4 = 14 + ((std::to_integer<unsigned>(before[14]) >> 4) == 4 ? 20 : 40);
    const size_t checksum_at = l4 + 6;
    int header_bits = 0;
    int payload_bits = 0;
    for (size_t b = 0; b < before.size(); ++b) {
      const int bits = std::popcount(std::to_integer<unsigned>(before[b] ^ after[b]));
      if (b < l4) {
        header_bits += bits;
      } else if (b != checksum_at && b != checksum_at + 1) {
        payload_bits += bits;
      }
    }
    EXPECT_EQ(header_bits, 0) << "Ethernet and IP headers are left alone";
    EXPECT_EQ(payload_bits, 1) << "exactly one bit flips beyond the IP header";
  }
}

// --- jitter without keep_order: departure order ---------------------------------------------

TEST(Replay, JitterWithoutKeepOrderWritesInDepartureOrder) {
  TempDir dir;
  const auto frames = ethernet_udp(2000, 100'000);
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  DirectionConfig c = fixed_delay(milliseconds(10));
  c.delay.jitter = milliseconds(8);
  c.delay.keep_order = false;

  run_replay(dir / "in.pcap", dir / "out.pcap", outbound(c), 77);
  const Capture out = read_capture(dir / "out.pcap");
  ASSERT_EQ(out.frames.size(), frames.size());
  std::map<uint16_t, int64_t> arrival;
  for (const Frame& f : frames) {
    arrival[port_of(f, 14)] = f.nanos;
  }
  int overtaken = 0;
  uint16_t previous_port = 0;
  for (size_t i = 0; i < out.frames.size(); ++i) {
    if (i > 0) {
      ASSERT_LE(out.frames[i - 1].nanos, out.frames[i].nanos) << "at output " << i;
    }
    const uint16_t port = port_of(out.frames[i], 14);
    const int64_t delay = out.frames[i].nanos - arrival.at(port);
    EXPECT_GE(delay, 2'000'000);
    EXPECT_LE(delay, 18'000'000);
    overtaken += port < previous_port ? 1 : 0;
    previous_port = port;
  }
  EXPECT_GT(overtaken, 100) << "16 ms of jitter over 100 us spacing must reorder";
}

// --- damaged input -------------------------------------------------------------------------------

TEST(Replay, TruncatedCaptureIsReplayedUpToTheCutAndFlagged) {
  TempDir dir;
  const auto frames = ethernet_udp(50);
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  fs::resize_file(dir / "in.pcap", fs::file_size(dir / "in.pcap") - 10);

  ReplayReport r;
  ASSERT_NO_THROW(
      r = run_replay(dir / "in.pcap", dir / "out.pcap", outbound(fixed_delay(milliseconds(1)))));
  EXPECT_TRUE(r.truncated_input);
  EXPECT_FALSE(r.input_error.empty());
  EXPECT_EQ(r.input_packets, 49U);
  EXPECT_EQ(r.output_packets, 49U);
  const Capture out = read_capture(dir / "out.pcap");
  ASSERT_EQ(out.frames.size(), 49U);
  for (size_t i = 0; i < out.frames.size(); ++i) {
    EXPECT_EQ(out.frames[i].bytes, frames[i].bytes);
  }
  EXPECT_EQ(nlohmann::json::parse(stats_json(r)).at("truncated_input"), true);
}

TEST(Replay, HeadersThatLieAreCountedMalformedAndPassedOnUnchanged) {
  TempDir dir;
  auto frames = ethernet_udp(10, 1'000'000);
  // Packet 2 (IPv4): total length 12, shorter than its own header.
  frames[2].bytes[14 + 2] = std::byte{0};
  frames[2].bytes[14 + 3] = std::byte{12};
  // Packet 4 (IPv4): header length 15 words, past the end of a short packet.
  frames[4].bytes.resize(14 + 40);
  frames[4].bytes[14] = std::byte{0x4f};
  // Packet 6 (IPv4): total length says 24, too short for the UDP header behind 20 bytes of IP.
  frames[6].bytes[14 + 2] = std::byte{0};
  frames[6].bytes[14 + 3] = std::byte{24};
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);

  const ReplayReport r =
      run_replay(dir / "in.pcap", dir / "out.pcap", outbound(fixed_delay(milliseconds(30))));
  const DirectionStats& s = r.links.at(0).directions[index_of(Direction::outbound)];
  EXPECT_EQ(s.malformed, 3U);
  EXPECT_EQ(r.non_ip, 0U);
  const Capture out = read_capture(dir / "out.pcap");
  ASSERT_EQ(out.frames.size(), frames.size());
  for (size_t i = 1; i < out.frames.size(); ++i) {
    EXPECT_LE(out.frames[i - 1].nanos, out.frames[i].nanos);
  }
  for (const size_t bad : {2U, 4U, 6U}) {
    const auto it = std::find_if(out.frames.begin(), out.frames.end(),
                                 [&](const Frame& f) { return f.bytes == frames[bad].bytes; });
    ASSERT_NE(it, out.frames.end()) << "packet " << bad << " passed on unchanged";
    EXPECT_EQ(it->nanos, frames[bad].nanos) << "at its arrival time, unimpaired";
  }
  int delayed = 0;
  for (const Frame& f : out.frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      if (f.bytes == frames[i].bytes && f.nanos == frames[i].nanos + 30'000'000) {
        ++delayed;
      }
    }
  }
  EXPECT_EQ(delayed, 7);
}

TEST(Replay, NonIpFramesAreCountedApartAndPassOnAtArrival) {
  TempDir dir;
  std::vector<Frame> frames = ethernet_udp(20, 1'000'000);
  std::vector<std::byte> arp = with_ethernet(std::vector<std::byte>(28, std::byte{0x01}), 0x0806);
  frames[5].bytes = arp;
  frames[11].bytes = arp;
  frames[12].bytes = std::vector<std::byte>(10, std::byte{0xff});  // runt: no EtherType at all
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);

  const ReplayReport r =
      run_replay(dir / "in.pcap", dir / "out.pcap", outbound(fixed_delay(milliseconds(20))));
  EXPECT_EQ(r.non_ip, 3U);
  const DirectionStats& s = r.links.at(0).directions[index_of(Direction::outbound)];
  EXPECT_EQ(s.malformed, 0U) << "non-IP frames are not counted as malformed";
  EXPECT_EQ(s.received, 20U);
  const Capture out = read_capture(dir / "out.pcap");
  ASSERT_EQ(out.frames.size(), 20U);
  std::multiset<int64_t> times;
  for (const Frame& f : out.frames) {
    times.insert(f.nanos);
  }
  for (size_t i = 0; i < frames.size(); ++i) {
    const bool passed_through = i == 5 || i == 11 || i == 12;
    const int64_t expected = frames[i].nanos + (passed_through ? 0 : 20'000'000);
    EXPECT_EQ(times.count(expected), 1U) << "packet " << i;
  }
}

TEST(Replay, TimestampsGoingBackwardsKeepTheOutputInOrder) {
  TempDir dir;
  auto frames = ethernet_udp(10, 1'000'000);
  std::swap(frames[3].nanos, frames[6].nanos);  // capture reordered by a multi-queue NIC
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  const ReplayReport r =
      run_replay(dir / "in.pcap", dir / "out.pcap", outbound(fixed_delay(milliseconds(1))));
  EXPECT_EQ(r.time_went_back, 3U);  // frames 4, 5 and 6 come after frame 3's later stamp
  const Capture out = read_capture(dir / "out.pcap");
  ASSERT_EQ(out.frames.size(), 10U);
  for (size_t i = 1; i < out.frames.size(); ++i) {
    EXPECT_LE(out.frames[i - 1].nanos, out.frames[i].nanos);
  }
}

TEST(Replay, PacketsTooLongForAnyBufferAreCountedNotFatal) {
  TempDir dir;
  auto frames = ethernet_udp(3);
  Frame giant{kEpoch + 10, std::vector<std::byte>(70'000, std::byte{0}), 0};
  giant.bytes[12] = std::byte{0x08};
  frames.insert(frames.begin() + 1, giant);
  write_capture(dir / "in.pcap", DLT_EN10MB, frames, 262144);
  const ReplayReport r =
      run_replay(dir / "in.pcap", dir / "out.pcap", outbound(fixed_delay(milliseconds(1))));
  EXPECT_EQ(r.pool_exhausted, 1U);
  EXPECT_EQ(r.input_packets, 4U);
  EXPECT_EQ(r.output_packets, 3U);
}

// --- failures leave nothing half-written ---------------------------------------------------

TEST(Replay, FailuresLeaveTheOutputAsItWas) {
  TempDir dir;
  {
    std::ofstream previous(dir / "out.pcap");
    previous << "previous contents";
  }
  const auto before = file_bytes(dir / "out.pcap");
  const auto configs = outbound(fixed_delay(milliseconds(1)));

  EXPECT_THROW(run_replay(dir / "missing.pcap", dir / "out.pcap", configs), PcapError);

  write_capture(dir / "wifi.pcap", DLT_IEEE802_11, {{kEpoch, std::vector<std::byte>(30), 0}});
  EXPECT_THROW(run_replay(dir / "wifi.pcap", dir / "out.pcap", configs), PcapError);

  EXPECT_EQ(file_bytes(dir / "out.pcap"), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2)
      << "no temporary file is left behind";

  write_capture(dir / "in.pcap", DLT_EN10MB, ethernet_udp(3));
  EXPECT_THROW(run_replay(dir / "in.pcap", dir / "no-such-dir" / "out.pcap", configs),
               std::system_error);
}

TEST(Replay, OutputMayReplaceTheInput) {
  TempDir dir;
  const auto frames = ethernet_udp(5);
  write_capture(dir / "cap.pcap", DLT_EN10MB, frames);
  run_replay(dir / "cap.pcap", dir / "cap.pcap", outbound(fixed_delay(milliseconds(1))));
  const Capture out = read_capture(dir / "cap.pcap");
  ASSERT_EQ(out.frames.size(), 5U);
  EXPECT_EQ(out.frames[0].nanos, frames[0].nanos + 1'000'000);
}

// Renaming a finished file over a device or through a link would destroy what is there.
TEST(Replay, DevicesAreWrittenInPlaceAndLinksFollowed) {
  TempDir dir;
  write_capture(dir / "in.pcap", DLT_EN10MB, ethernet_udp(5));
  const auto configs = outbound(fixed_delay(milliseconds(1)));
  if (fs::is_character_file("/dev/null")) {
    const ReplayReport r = run_replay(dir / "in.pcap", "/dev/null", configs);
    EXPECT_EQ(r.output_packets, 5U);
    EXPECT_TRUE(fs::is_character_file("/dev/null"));
    write_stats_json("/dev/null", r);
    EXPECT_TRUE(fs::is_character_file("/dev/null"));
  }
  fs::create_directory(dir / "real");
  fs::create_symlink(dir / "real" / "out.pcap", dir / "link.pcap");
  run_replay(dir / "in.pcap", dir / "link.pcap", configs);
  EXPECT_TRUE(fs::is_symlink(dir / "link.pcap"));
  EXPECT_EQ(read_capture(dir / "real" / "out.pcap").frames.size(), 5U);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "real"), fs::directory_iterator()), 1);
}

// --- stats JSON ----------------------------------------------------------------------------------

// The layout scripts read with awk (scripts/bench-lib.sh's jfield and jsection): two spaces of
// indent per level and one "key": value per line, the value on the key's line.
void expect_awk_readable(const std::string& text) {
  const std::regex key_line(
      R"(( {2})+"[a-z0-9_]+": ([-0-9.eE]+|true|false|null|"([^"\\]|\\.)*"|\{|\{\}|\[|\[\]),?)");
  const std::regex close_line(R"(( {2})*[}\]],?)");
  std::istringstream lines(text);
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    ++n;
    EXPECT_TRUE(n == 1 ? line == "{"
                       : std::regex_match(line, key_line) || std::regex_match(line, close_line))
        << "line " << n << ": " << line;
  }
  EXPECT_EQ(text.back(), '\n');
}

TEST(StatsJson, IsValidJsonWithEveryKey) {
  TempDir dir;
  write_capture(dir / "in.pcap", DLT_EN10MB, ethernet_udp(400));
  DirectionConfig c = fixed_delay(milliseconds(40));
  c.loss = BernoulliLoss{0.1};
  ReplaySetup setup;
  setup.input = dir / "in.pcap";
  setup.output = dir / "out.pcap";
  setup.links = one_link(outbound(c));
  setup.seed = 18446744073709551615ULL;
  setup.profile_name = "lte \"busy\"\n\\ \x01";
  const ReplayReport r = replay(setup);

  const std::string text = stats_json(r);
  const auto v = nlohmann::ordered_json::parse(text);
  expect_awk_readable(text);

  std::vector<std::string> keys;
  for (const auto& [key, value] : v.items()) {
    keys.push_back(key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "profile", "seed", "input", "output", "direction", "link_type",
                      "input_packets", "output_packets", "non_ip", "pool_exhausted",
                      "time_went_back", "timeline_changes", "truncated_input", "input_error", "unmatched", "links"}))
      << "in this order: scripts take the first \"key\": they find";
  for (const char* d : {"outbound", "inbound"}) {
    std::vector<std::string> stats;
    for (const auto& [key, value] : v.at("links").at("default").at(d).items()) {
      stats.push_back(key);
      EXPECT_TRUE(key == "delay_us" || value.is_number_unsigned()) << d << "." << key;
    }
    EXPECT_EQ(stats,
              (std::vector<std::string>{"received", "sent", "dropped_loss", "dropped_queue",
                                        "dropped_outage", "dropped_memory", "duplicated", "reordered", "corrupted",
                                        "malformed", "bytes_received", "bytes_sent", "delay_us"}))
        << d;
    std::vector<std::string> delays;
    for (const auto& [key, value] : v.at("links").at("default").at(d).at("delay_us").items()) {
      delays.push_back(key);
      EXPECT_TRUE(value.is_number_float()) << d << ".delay_us." << key;
    }
    EXPECT_EQ(delays, (std::vector<std::string>{"p50", "p90", "p99", "max", "mean"})) << d;
  }
  EXPECT_EQ(v["profile"], setup.profile_name);
  EXPECT_EQ(v["seed"].get<uint64_t>(), 18446744073709551615ULL) << "a uint64 keeps every digit";
  EXPECT_NE(text.find("\"seed\": 18446744073709551615,"), std::string::npos);
  EXPECT_EQ(v["direction"], "outbound");
  EXPECT_EQ(v["truncated_input"], false);
  EXPECT_EQ(v["input_packets"], 400U);
  EXPECT_EQ(v["unmatched"], 0U);
  const DirectionStats& s = r.links.at(0).directions[0];
  const auto& out = v["links"]["default"]["outbound"];
  EXPECT_EQ(out["received"], 400U);
  EXPECT_EQ(out["sent"], s.sent);
  EXPECT_EQ(out["dropped_loss"], s.dropped_loss);
  EXPECT_EQ(v["output_packets"], s.sent);
  EXPECT_EQ(out["delay_us"]["max"], 40000.0);
  EXPECT_NE(text.find("\"max\": 40000.0,"), std::string::npos) << text;
  EXPECT_NEAR(out["delay_us"]["p50"].get<double>(), 40000.0, 400.0);
  EXPECT_NEAR(out["delay_us"]["p99"].get<double>(), 40000.0, 400.0);
  EXPECT_EQ(v["links"]["default"]["inbound"]["sent"], 0U);
  EXPECT_EQ(v["links"]["default"]["inbound"]["delay_us"]["p50"], 0.0);

  write_stats_json(dir / "stats.json", r);
  const auto written = file_bytes(dir / "stats.json");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(written.data()), written.size()), text);
  EXPECT_THROW(write_stats_json(dir / "missing" / "stats.json", r), std::system_error);
}

// Microseconds print as nanoseconds would: at most three decimals, read back exactly.
TEST(StatsJson, MicrosecondsKeepTheirNanoseconds) {
  std::mt19937_64 rng(7);
  // Up to 2^50 ns (13 days), where reading back through a double is still exact.
  std::vector<int64_t> samples{0, 1, 999, 1000, 2911, 20'000'000, -1500, int64_t{1} << 50};
  for (int i = 0; i < 20000; ++i) {
    samples.push_back(static_cast<int64_t>(rng() % (uint64_t{1} << (i % 51))));
  }
  const std::regex at_most_three_decimals(R"(-?[0-9]+\.[0-9]{1,3})");
  for (const int64_t ns : samples) {
    const std::string text = nlohmann::ordered_json(json_micros(Duration{ns})).dump();
    ASSERT_TRUE(std::regex_match(text, at_most_three_decimals)) << ns << " ns: " << text;
    ASSERT_EQ(std::llround(std::stod(text) * 1000), ns) << text;
  }
  EXPECT_EQ(nlohmann::ordered_json(json_micros(milliseconds(20))).dump(), "20000.0");
  EXPECT_EQ(nlohmann::ordered_json(json_micros(Duration{2911})).dump(), "2.911");
  EXPECT_EQ(nlohmann::ordered_json(json_seconds(12.34567)).dump(), "12.346");
}

// A path that is not UTF-8 still gives valid JSON (its bad bytes become U+FFFD).
TEST(StatsJson, TextIsValidWhateverTheBytes) {
  nlohmann::ordered_json j;
  j["input"] = std::string("cap\xff\xfe.pcap");
  j["name"] = "quote \" backslash \\ newline \n bell \x07";
  const std::string text = json_text(j);
  const auto back = nlohmann::ordered_json::parse(text);
  EXPECT_EQ(back["input"], "cap\xef\xbf\xbd\xef\xbf\xbd.pcap");
  EXPECT_EQ(back["name"], j["name"]);
  EXPECT_EQ(text,
            "{\n  \"input\": \"cap\xef\xbf\xbd\xef\xbf\xbd.pcap\",\n  \"name\": "
            "\"quote \\\" backslash \\\\ newline \\n bell \\u0007\"\n}\n");
}

// --- links ------------------------------------------------------------------------------------

// A capture of three interleaved flows: UDP to port 5000 (IPv4), TCP to 443 (IPv6) and UDP to
// 9999 (IPv4); each packet's source port (10000 + i) tells it apart.
std::vector<Frame> three_flows(size_t each) {
  std::vector<Frame> frames;
  for (size_t i = 0; i < 3 * each; ++i) {
    const auto sport = static_cast<uint16_t>(10000 + i);
    const auto ip = i % 3 == 0   ? testing::make_ip_packet(4, 17, 40, sport, 5000)
                    : i % 3 == 1 ? testing::make_ip_packet(6, 6, 40, sport, 443)
                                 : testing::make_ip_packet(4, 17, 40, sport, 9999);
    frames.push_back({kEpoch + static_cast<int64_t>(i) * 100'003,
                      with_ethernet(ip, i % 3 == 1 ? 0x86dd : 0x0800), 0});
  }
  return frames;
}

constexpr std::string_view kTwoLinks = R"([profile]
name = "two"
seed = 11
[[link]]
name = "video"
match = { protocol = "udp", ports = ["5000-5100"] }
outbound = { delay = "80ms", loss = "20%" }
[[link]]
name = "api"
match = { protocol = "tcp" }
outbound = { delay = "30ms", loss = "5%" }
)";

ReplayReport replay_profile(const Profile& profile, const fs::path& in, const fs::path& out) {
  ReplaySetup setup;
  setup.input = in;
  setup.output = out;
  setup.links = profile.links;
  setup.seed = profile.seed.value_or(0);
  setup.profile_name = profile.name;
  return replay(setup);
}

// Each flow gets its own link's delay and loss; the third, which no link takes, passes at once.
TEST(ReplayLinks, EachFlowGetsItsLinksFigures) {
  TempDir dir;
  constexpr size_t kEach = 2000;
  const auto frames = three_flows(kEach);
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  const Profile profile = parse_profile(kTwoLinks, "two.toml");
  const ReplayReport r = replay_profile(profile, dir / "in.pcap", dir / "out.pcap");

  std::map<std::vector<std::byte>, int64_t> arrival;
  for (const Frame& f : frames) {
    arrival[f.bytes] = f.nanos;
  }
  std::map<uint16_t, size_t> count;  // by destination port
  int64_t previous = 0;
  for (const Frame& f : read_capture(dir / "out.pcap").frames) {
    ASSERT_EQ(arrival.count(f.bytes), 1U);
    EXPECT_GE(f.nanos, previous) << "departure order";
    previous = f.nanos;
    const IpHeaders h = parse_ip(std::span<const std::byte>(f.bytes).subspan(14));
    const int64_t delay = f.nanos - arrival[f.bytes];
    const int64_t expected = h.dst_port == 5000 ? 80'000'000 : h.dst_port == 443 ? 30'000'000 : 0;
    EXPECT_EQ(delay, expected) << "port " << h.dst_port;
    ++count[h.dst_port];
  }
  // Loss within 4.5 sigma of the binomial for each link's own rate.
  const auto within = [](size_t kept, double loss) {
    const double n = kEach;
    const double sigma = std::sqrt(n * loss * (1 - loss));
    return std::abs(static_cast<double>(kept) - n * (1 - loss)) <= 4.5 * sigma;
  };
  EXPECT_TRUE(within(count[5000], 0.20)) << count[5000];
  EXPECT_TRUE(within(count[443], 0.05)) << count[443];
  EXPECT_EQ(count[9999], kEach);

  ASSERT_EQ(r.links.size(), 2U);
  EXPECT_EQ(r.links[0].name, "video");
  EXPECT_EQ(r.links[1].name, "api");
  const DirectionStats& video = r.links[0].directions[index_of(Direction::outbound)];
  const DirectionStats& api = r.links[1].directions[index_of(Direction::outbound)];
  EXPECT_EQ(video.received, kEach);
  EXPECT_EQ(video.sent, count[5000]);
  EXPECT_EQ(video.dropped_loss, kEach - count[5000]);
  EXPECT_EQ(video.delay.max(), milliseconds(80));
  EXPECT_EQ(api.received, kEach);
  EXPECT_EQ(api.sent, count[443]);
  EXPECT_EQ(api.delay.max(), milliseconds(30));
  EXPECT_EQ(r.unmatched, kEach);
  EXPECT_EQ(r.output_packets, count[5000] + count[443] + count[9999]);

  const std::string text = stats_json(r);
  const auto v = nlohmann::ordered_json::parse(text);
  expect_awk_readable(text);
  EXPECT_EQ(v["unmatched"], kEach);
  EXPECT_EQ(v["links"].begin().key(), "video") << "links in the profile's order";
  EXPECT_EQ(v["links"]["video"]["outbound"]["received"], kEach);
  EXPECT_EQ(v["links"]["video"]["outbound"]["delay_us"]["max"], 80000.0);
  EXPECT_EQ(v["links"]["api"]["outbound"]["sent"], count[443]);
  EXPECT_EQ(v["links"]["api"]["inbound"]["received"], 0U);
  EXPECT_FALSE(v.contains("outbound"));
}

// A link's draws come from its own generator: which API packets are lost does not change when
// the video flow is taken out of the capture.
TEST(ReplayLinks, ALinksDrawsDoNotDependOnOtherLinksTraffic) {
  TempDir dir;
  const auto frames = three_flows(600);
  std::vector<Frame> api_only;
  std::copy_if(frames.begin(), frames.end(), std::back_inserter(api_only),
               [](const Frame& f) { return f.bytes[12] == std::byte{0x86}; });
  write_capture(dir / "all.pcap", DLT_EN10MB, frames);
  write_capture(dir / "api.pcap", DLT_EN10MB, api_only);
  const Profile profile = parse_profile(kTwoLinks, "two.toml");
  replay_profile(profile, dir / "all.pcap", dir / "all-out.pcap");
  replay_profile(profile, dir / "api.pcap", dir / "api-out.pcap");
  const auto kept_api = [](const Capture& c) {
    std::set<std::vector<std::byte>> out;
    for (const Frame& f : c.frames) {
      if (f.bytes[12] == std::byte{0x86}) {
        out.insert(f.bytes);
      }
    }
    return out;
  };
  const auto all = kept_api(read_capture(dir / "all-out.pcap"));
  EXPECT_LT(all.size(), 600U);
  EXPECT_EQ(all, kept_api(read_capture(dir / "api-out.pcap")));
}

// Frames without IP go to the first link that takes every packet, else pass as unmatched.
TEST(ReplayLinks, NonIpFramesAndACatchAllLink) {
  TempDir dir;
  std::vector<Frame> frames = three_flows(3);
  frames.push_back({kEpoch + 10'000'000, with_ethernet(std::vector<std::byte>(46), 0x0806), 0});
  write_capture(dir / "in.pcap", DLT_EN10MB, frames);
  const Profile two = parse_profile(kTwoLinks, "two.toml");
  const ReplayReport a = replay_profile(two, dir / "in.pcap", dir / "a.pcap");
  EXPECT_EQ(a.non_ip, 1U);
  EXPECT_EQ(a.unmatched, 4U);

  const Profile with_rest = parse_profile(std::string(kTwoLinks) +
                                              "[[link]]\nname = \"rest\"\n"
                                              "outbound = { delay = \"1ms\" }\n",
                                          "three.toml");
  const ReplayReport b = replay_profile(with_rest, dir / "in.pcap", dir / "b.pcap");
  EXPECT_EQ(b.unmatched, 0U);
  ASSERT_EQ(b.links.size(), 3U);
  EXPECT_EQ(b.links[2].directions[0].received, 4U);  // three UDP to 9999 and the ARP frame
  EXPECT_EQ(b.links[2].directions[0].non_ip, 1U);
  EXPECT_EQ(b.output_packets, a.output_packets);
}

}  // namespace
}  // namespace badlink
