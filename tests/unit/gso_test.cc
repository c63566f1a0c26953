// GSO segmentation: super-packets cut into wire packets whose headers, lengths and checksums a
// receiver would accept, and whose payloads add back up to the original.
#include "core/gso.hh"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "test_packets.hh"

namespace badlink {
namespace {

using testing::make_ip_packet;
using testing::put16;

constexpr uint8_t kFin = 0x01;
constexpr uint8_t kPsh = 0x08;
constexpr uint8_t kAck = 0x10;
constexpr uint8_t kCwr = 0x80;

uint8_t at8(std::span<const std::byte> b, size_t i) { return std::to_integer<uint8_t>(b[i]); }
uint16_t at16(std::span<const std::byte> b, size_t i) {
  return static_cast<uint16_t>((at8(b, i) << 8) | at8(b, i + 1));
}
uint32_t at32(std::span<const std::byte> b, size_t i) {
  return (static_cast<uint32_t>(at16(b, i)) << 16) | at16(b, i + 2);
}
void put32(std::vector<std::byte>& b, size_t i, uint32_t v) {
  put16(b, i, static_cast<uint16_t>(v >> 16));
  put16(b, i + 2, static_cast<uint16_t>(v & 0xffff));
}

// Inserts `extra` bytes of IPv4 options (NOPs) or an IPv6 hop-by-hop header (PadN) in front of
// the L4 header of a make_ip_packet() packet, keeping every length field right.
void insert_ip_extension(std::vector<std::byte>& b, size_t extra) {
  if (std::to_integer<uint8_t>(b[0]) >> 4 == 4) {
    b.insert(b.begin() + 20, extra, std::byte{1});
    b[0] = static_cast<std::byte>(0x40 | ((20 + extra) / 4));
    put16(b, 2, static_cast<uint16_t>(b.size()));
  } else {
    std::vector<std::byte> hbh(extra);
    hbh[0] = b[6];
    hbh[1] = static_cast<std::byte>(extra / 8 - 1);
    hbh[2] = std::byte{1};  // PadN covering the rest
    hbh[3] = static_cast<std::byte>(extra - 4);
    b.insert(b.begin() + 40, hbh.begin(), hbh.end());
    b[6] = std::byte{0};
    put16(b, 4, static_cast<uint16_t>(b.size() - 40));
  }
}

struct TcpSpec {
  int version = 4;
  size_t payload = 4000;
  uint8_t flags = kAck;
  uint32_t seq = 1000;
  uint16_t ip_id = 0x1234;
  size_t ip_extension = 0;  // IPv4 option bytes or IPv6 hop-by-hop bytes
};

// A TCP super-packet with a 12-byte timestamp option (NOP NOP TS) and correct checksums.
std::vector<std::byte> make_tcp(const TcpSpec& s) {
  auto b = make_ip_packet(s.version, 6, 12 + s.payload, 40000, 5000, 7);
  const size_t l4 = s.version == 4 ? 20 : 40;
  if (s.version == 4) {
    put16(b, 4, s.ip_id);
    b[6] = std::byte{0x40};  // DF, as TCP sends it
  }
  put32(b, l4 + 4, s.seq);
  put32(b, l4 + 8, 777);  // ack
  b[l4 + 12] = std::byte{0x80};
  b[l4 + 13] = static_cast<std::byte>(s.flags);
  put16(b, l4 + 14, 501);  // window
  const uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78};
  for (size_t i = 0; i < 12; ++i) {
    b[l4 + 20 + i] = static_cast<std::byte>(ts[i]);
  }
  if (s.ip_extension > 0) {
    insert_ip_extension(b, s.ip_extension);
  }
  const IpHeaders h = parse_ip(b);
  fix_ipv4_checksum(b, h);
  fix_l4_checksum(b, h);
  return b;
}

// The one's complement sum over the pseudo-header and the L4 bytes, folded: 0xffff when the L4
// checksum verifies. Computed here rather than through fix_l4_checksum, which gso.cc uses.
uint16_t l4_verify_sum(std::span<const std::byte> seg) {
  const IpHeaders h = parse_ip(seg);
  const size_t alen = h.version == 4 ? 4 : 16;
  const size_t l4_len = h.ip_length - h.l4_offset;
  uint32_t sum = checksum_add(0, std::as_bytes(std::span(h.src.data(), alen)));
  sum = checksum_add(sum, std::as_bytes(std::span(h.dst.data(), alen)));
  sum += h.protocol;
  sum += static_cast<uint32_t>(l4_len);
  sum = checksum_add(sum, seg.subspan(h.l4_offset, l4_len));
  return checksum_fold(sum);
}

bool ipv4_header_verifies(std::span<const std::byte> seg) {
  const IpHeaders h = parse_ip(seg);
  return checksum_fold(checksum_add(0, seg.first(h.l4_offset))) == 0xffff;
}

// Every segment of `super` cut at `segment_payload`, each checked to parse, to have its
// lengths and checksums right, and to repeat the super-packet's headers where nothing changes.
std::vector<std::vector<std::byte>> segment_all(std::span<const std::byte> super,
                                                uint32_t segment_payload) {
  const IpHeaders h = parse_ip(super);
  EXPECT_TRUE(h.ok());
  const auto layout = gso_layout(super, h, segment_payload);
  EXPECT_TRUE(layout.has_value());
  if (!layout) {
    return {};
  }
  std::vector<std::vector<std::byte>> segments;
  size_t wire = 0;
  for (uint32_t i = 0; i < layout->segments; ++i) {
    std::vector<std::byte> out(layout->header_bytes + layout->segment_payload);
    const size_t n = gso_write_segment(super, h, *layout, i, out);
    if (n < layout->header_bytes) {
      ADD_FAILURE() << "segment " << i << " not written";
      continue;
    }
    out.resize(n);
    wire += n;
    const IpHeaders sh = parse_ip(out);
    EXPECT_TRUE(sh.ok()) << "segment " << i << ": " << to_string(sh.error);
    EXPECT_EQ(sh.ip_length, n);
    EXPECT_EQ(sh.l4_offset, h.l4_offset);
    EXPECT_FALSE(sh.fragment);
    if (h.version == 4) {
      EXPECT_EQ(at16(out, 2), n);
      EXPECT_TRUE(ipv4_header_verifies(out)) << "segment " << i;
    } else {
      EXPECT_EQ(at16(out, 4), n - 40);
    }
    EXPECT_EQ(l4_verify_sum(out), 0xffff) << "segment " << i;
    EXPECT_TRUE(testing::checksums_valid(out)) << "segment " << i;
    if (h.protocol == 17) {
      EXPECT_EQ(at16(out, h.l4_offset + 4), n - h.l4_offset);
    }
    // Addresses, ports, ack, window and TCP options repeat unchanged.
    EXPECT_EQ(sh.src, h.src);
    EXPECT_EQ(sh.dst, h.dst);
    EXPECT_EQ(sh.src_port, h.src_port);
    EXPECT_EQ(sh.dst_port, h.dst_port);
    if (h.protocol == 6) {
      EXPECT_EQ(at32(out, h.l4_offset + 8), at32(super, h.l4_offset + 8));
      EXPECT_EQ(at16(out, h.l4_offset + 14), at16(super, h.l4_offset + 14));
      EXPECT_TRUE(std::equal(out.begin() + h.l4_offset + 20, out.begin() + layout->header_bytes,
                             super.begin() + h.l4_offset + 20));
    }
    segments.push_back(std::move(out));
  }
  EXPECT_EQ(wire, layout->wire_bytes());
  return segments;
}

// The payloads of `segments` in order, each behind `header_bytes` of headers.
std::vector<std::byte> joined_payload(const std::vector<std::vector<std::byte>>& segments,
                                      size_t header_bytes) {
  std::vector<std::byte> all;
  for (const auto& s : segments) {
    all.insert(all.end(), s.begin() + static_cast<ptrdiff_t>(header_bytes), s.end());
  }
  return all;
}

void expect_tcp_segments(const TcpSpec& spec, uint32_t segment_payload) {
  const auto super = make_tcp(spec);
  const IpHeaders h = parse_ip(super);
  ASSERT_TRUE(h.ok());
  const auto layout = gso_layout(super, h, segment_payload);
  ASSERT_TRUE(layout.has_value());
  const uint32_t l3 = spec.version == 4 ? 20 : 40;
  EXPECT_EQ(layout->header_bytes, l3 + spec.ip_extension + 32);
  EXPECT_EQ(layout->payload_bytes, spec.payload);
  EXPECT_EQ(layout->segment_payload, segment_payload);
  EXPECT_EQ(layout->segments, (spec.payload + segment_payload - 1) / segment_payload);

  const auto segments = segment_all(super, segment_payload);
  ASSERT_EQ(segments.size(), layout->segments);
  const size_t l4 = h.l4_offset;
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments[i];
    const bool last = i + 1 == segments.size();
    EXPECT_EQ(s.size() - layout->header_bytes,
              last ? spec.payload - i * segment_payload : segment_payload);
    EXPECT_EQ(at32(s, l4 + 4), static_cast<uint32_t>(spec.seq + i * segment_payload))
        << "contiguous sequence numbers";
    if (spec.version == 4) {
      EXPECT_EQ(at16(s, 4), static_cast<uint16_t>(spec.ip_id + i));
    }
  }
  EXPECT_EQ(joined_payload(segments, layout->header_bytes),
            std::vector<std::byte>(super.begin() + layout->header_bytes, super.end()));
}

TEST(Gso, Ipv4TcpWithTimestampOption) {
  expect_tcp_segments({.version = 4, .payload = 4000}, 1448);  // 1448 + 1448 + 1104
}

TEST(Gso, Ipv6TcpWithTimestampOption) {
  expect_tcp_segments({.version = 6, .payload = 5000}, 1428);  // 3 x 1428 + 716
}

TEST(Gso, Ipv4OptionsAndIpv6ExtensionHeadersRepeatInEverySegment) {
  expect_tcp_segments({.version = 4, .payload = 3001, .ip_extension = 8}, 1000);
  expect_tcp_segments({.version = 6, .payload = 3001, .ip_extension = 16}, 1000);
}

TEST(Gso, NearlyFullSuperPacketAndExactMultiple) {
  expect_tcp_segments({.version = 4, .payload = 65535 - 52}, 1448);
  expect_tcp_segments({.version = 6, .payload = 65535 - 32}, 1428);
  expect_tcp_segments({.version = 4, .payload = 3 * 1448}, 1448);  // 3 segments, not 4
}

TEST(Gso, SequenceNumberAndIpIdWrap) {
  expect_tcp_segments({.version = 4, .payload = 4000, .seq = 0xffffff00, .ip_id = 0xfffe}, 1448);
}

TEST(Gso, FinAndPshOnLastSegmentOnlyCwrOnFirstOnly) {
  for (int version : {4, 6}) {
    const auto super =
        make_tcp({.version = version, .payload = 4000, .flags = kAck | kPsh | kFin | kCwr});
    const auto segments = segment_all(super, 1448);
    ASSERT_EQ(segments.size(), 3U);
    const size_t flags_at = parse_ip(super).l4_offset + 13;
    EXPECT_EQ(at8(segments[0], flags_at), kAck | kCwr);
    EXPECT_EQ(at8(segments[1], flags_at), kAck);
    EXPECT_EQ(at8(segments[2], flags_at), kAck | kPsh | kFin);
  }
}

TEST(Gso, ChecksumIsComputedWhateverTheSuperPacketHeld) {
  for (int version : {4, 6}) {
    auto super = make_tcp({.version = version, .payload = 4000});
    const IpHeaders h = parse_ip(super);
    const size_t field = h.l4_offset + 16;
    put16(super, field, 0xdead);  // garbage
    const auto garbage = segment_all(super, 1448);
    EXPECT_EQ(garbage.size(), 3U);

    // CHECKSUM_PARTIAL: the field holds the uncomplemented pseudo-header sum only.
    const size_t alen = version == 4 ? 4 : 16;
    uint32_t pseudo = checksum_add(0, std::as_bytes(std::span(h.src.data(), alen)));
    pseudo = checksum_add(pseudo, std::as_bytes(std::span(h.dst.data(), alen)));
    pseudo += 6 + (h.ip_length - h.l4_offset);
    put16(super, field, checksum_fold(pseudo));
    const auto partial = segment_all(super, 1448);
    EXPECT_EQ(partial, garbage);
  }
}

TEST(Gso, UdpOverIpv4AndIpv6) {
  for (int version : {4, 6}) {
    auto super = make_ip_packet(version, 17, 3500, 4433, 443, 3);
    const IpHeaders h = parse_ip(super);
    put16(super, h.l4_offset + 6, 0x1111);  // garbage checksum
    const auto layout = gso_layout(super, h, 1200);
    ASSERT_TRUE(layout.has_value());
    EXPECT_EQ(layout->header_bytes, h.l4_offset + 8U);
    EXPECT_EQ(layout->payload_bytes, 3500U);
    EXPECT_EQ(layout->segments, 3U);
    const auto segments = segment_all(super, 1200);
    ASSERT_EQ(segments.size(), 3U);
    EXPECT_EQ(segments[0].size(), h.l4_offset + 8U + 1200);
    EXPECT_EQ(segments[2].size(), h.l4_offset + 8U + 1100);
    EXPECT_EQ(joined_payload(segments, layout->header_bytes),
              std::vector<std::byte>(super.begin() + layout->header_bytes, super.end()));
  }
}

TEST(Gso, SingleSegmentIsACopyWithCorrectChecksum) {
  for (int version : {4, 6}) {
    const auto super = make_tcp({.version = version, .payload = 1000, .flags = kAck | kPsh | kFin});
    const IpHeaders h = parse_ip(super);
    const auto layout = gso_layout(super, h, 1448);
    ASSERT_TRUE(layout.has_value());
    EXPECT_EQ(layout->segments, 1U);
    EXPECT_EQ(layout->wire_bytes(), super.size());
    std::vector<std::byte> out(layout->header_bytes + layout->segment_payload);
    ASSERT_EQ(gso_write_segment(super, h, *layout, 0, out), super.size());
    out.resize(super.size());
    EXPECT_EQ(out, super);  // checksums were right already; flags all kept

    auto garbage = super;
    put16(garbage, h.l4_offset + 16, 0xbeef);
    ASSERT_EQ(gso_write_segment(garbage, h, *layout, 0, out), super.size());
    EXPECT_EQ(out, super);
  }
  // No payload at all (a bare ACK): one segment, the headers alone.
  const auto ack = make_tcp({.version = 4, .payload = 0});
  const auto segments = segment_all(ack, 1448);
  ASSERT_EQ(segments.size(), 1U);
  EXPECT_EQ(segments[0], ack);
}

TEST(Gso, SegmentSizeForMtu) {
  const auto tcp4 = make_tcp({.version = 4, .payload = 100});
  EXPECT_EQ(gso_size_for_mtu(tcp4, parse_ip(tcp4), 1500), 1448U);
  const auto tcp6 = make_ip_packet(6, 6, 100);
  EXPECT_EQ(gso_size_for_mtu(tcp6, parse_ip(tcp6), 1500), 1440U);
  const auto udp4 = make_ip_packet(4, 17, 100);
  EXPECT_EQ(gso_size_for_mtu(udp4, parse_ip(udp4), 1500), 1472U);
  const auto udp6 = make_ip_packet(6, 17, 100);
  EXPECT_EQ(gso_size_for_mtu(udp6, parse_ip(udp6), 1500), 1452U);
  // The payload need not be there, only the headers.
  EXPECT_EQ(gso_size_for_mtu(std::span(tcp4).first(52), parse_ip(std::span(tcp4).first(52)), 1500),
            1448U);

  EXPECT_EQ(gso_size_for_mtu(tcp4, parse_ip(tcp4), 52), 0U);  // no room for payload
  EXPECT_EQ(gso_size_for_mtu(tcp4, parse_ip(tcp4), 53), 1U);
  const auto icmp = make_ip_packet(4, 1, 100);
  EXPECT_EQ(gso_size_for_mtu(icmp, parse_ip(icmp), 1500), 0U);
  // TCP options announced but cut off.
  EXPECT_EQ(gso_size_for_mtu(std::span(tcp4).first(40), parse_ip(std::span(tcp4).first(40)), 1500),
            0U);
}

TEST(Gso, RejectsWhatCannotBeSegmented) {
  const auto icmp = make_ip_packet(4, 1, 3000);
  EXPECT_FALSE(gso_layout(icmp, parse_ip(icmp), 1000).has_value());
  const auto icmp6 = make_ip_packet(6, 58, 3000);
  EXPECT_FALSE(gso_layout(icmp6, parse_ip(icmp6), 1000).has_value());

  auto first_fragment = make_ip_packet(4, 17, 3000);
  first_fragment[6] = std::byte{0x20};  // MF
  EXPECT_FALSE(gso_layout(first_fragment, parse_ip(first_fragment), 1000).has_value());
  auto later_fragment = make_ip_packet(4, 17, 3000);
  put16(later_fragment, 6, 100);
  EXPECT_FALSE(gso_layout(later_fragment, parse_ip(later_fragment), 1000).has_value());
  auto v6_fragment = make_ip_packet(6, 17, 3000);
  std::vector<std::byte> frag(8);
  frag[0] = std::byte{17};
  v6_fragment.insert(v6_fragment.begin() + 40, frag.begin(), frag.end());
  v6_fragment[6] = std::byte{44};
  put16(v6_fragment, 4, static_cast<uint16_t>(v6_fragment.size() - 40));
  ASSERT_TRUE(parse_ip(v6_fragment).fragment);
  EXPECT_FALSE(gso_layout(v6_fragment, parse_ip(v6_fragment), 1000).has_value());

  const auto tcp = make_tcp({.version = 4, .payload = 3000});
  const IpHeaders h = parse_ip(tcp);
  EXPECT_FALSE(gso_layout(tcp, h, 0).has_value());
  const auto truncated = std::span(tcp).first(tcp.size() - 1);
  // The layout needs only the headers (a copy of them stands for the packet); cutting needs
  // every byte.
  const auto snapped_layout = gso_layout(truncated, parse_ip(truncated), 1000);
  ASSERT_TRUE(snapped_layout.has_value());
  EXPECT_EQ(snapped_layout->segments, 3U);
  const auto headers_only = std::span(tcp).first(h.l4_offset + 19);
  EXPECT_FALSE(gso_layout(headers_only, parse_ip(headers_only), 1000).has_value());
  auto bad_offset = tcp;
  bad_offset[h.l4_offset + 12] = std::byte{0x40};  // data offset 4 words < 5
  EXPECT_FALSE(gso_layout(bad_offset, parse_ip(bad_offset), 1000).has_value());
  auto broken = tcp;
  broken[0] = std::byte{0x75};
  EXPECT_FALSE(gso_layout(broken, parse_ip(broken), 1000).has_value());

  const auto layout = gso_layout(tcp, h, 1000);
  ASSERT_TRUE(layout.has_value());
  ASSERT_EQ(layout->segments, 3U);
  std::vector<std::byte> out(layout->header_bytes + layout->segment_payload);
  EXPECT_EQ(gso_write_segment(tcp, h, *layout, 3, out), 0U);  // index out of range
  EXPECT_EQ(gso_write_segment(tcp, h, *layout, 0, std::span(out).first(out.size() - 1)), 0U);
  EXPECT_EQ(gso_write_segment(truncated, h, *layout, 0, out), 0U);
  // A layout that does not belong to this packet.
  const auto other = make_tcp({.version = 6, .payload = 3000});
  EXPECT_EQ(gso_write_segment(other, parse_ip(other), *layout, 0, out), 0U);
  auto lying = *layout;
  lying.segments = 4;
  EXPECT_EQ(gso_write_segment(tcp, h, lying, 3, out), 0U);
  EXPECT_EQ(gso_write_segment(tcp, h, *layout, 2, out), layout->header_bytes + 1000U);
}

}  // namespace
}  // namespace badlink
