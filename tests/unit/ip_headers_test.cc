// Header parsing against packets that lie about their lengths, and checksum arithmetic.
#include "core/ip_headers.hh"

#include <gtest/gtest.h>

#include <random>

#include "test_packets.hh"

namespace badlink {
namespace {

using testing::checksums_valid;
using testing::make_ip_packet;
using testing::put16;

TEST(IpHeaders, ParsesIpv4Udp) {
  const auto b = make_ip_packet(4, 17, 100, 1234, 5000);
  const IpHeaders h = parse_ip(b);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.version, 4);
  EXPECT_EQ(h.protocol, 17);
  EXPECT_EQ(h.l4_offset, 20);
  EXPECT_EQ(h.ip_length, b.size());
  EXPECT_EQ(h.src_port, 1234);
  EXPECT_EQ(h.dst_port, 5000);
  EXPECT_TRUE(checksums_valid(b));
}

TEST(IpHeaders, ParsesIpv6TcpBehindExtensionHeaders) {
  auto b = make_ip_packet(6, 6, 10);
  // Insert an 8-byte hop-by-hop header in front of TCP.
  std::vector<std::byte> ext(8);
  ext[0] = std::byte{6};
  b.insert(b.begin() + 40, ext.begin(), ext.end());
  b[6] = std::byte{0};
  put16(b, 4, static_cast<uint16_t>(b.size() - 40));
  const IpHeaders h = parse_ip(b);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.protocol, 6);
  EXPECT_EQ(h.l4_offset, 48);
  EXPECT_EQ(h.dst_port, 5000);
}

TEST(IpHeaders, RejectsLiesWithoutReadingPastTheBuffer) {
  EXPECT_EQ(parse_ip({}).error, HeaderError::too_short);
  auto b = make_ip_packet(4, 17, 0);
  auto short_ihl = b;
  short_ihl[0] = std::byte{0x44};
  EXPECT_EQ(parse_ip(short_ihl).error, HeaderError::bad_header_length);
  auto long_ihl = b;
  long_ihl[0] = std::byte{0x4f};
  EXPECT_EQ(parse_ip(std::span(long_ihl).first(24)).error, HeaderError::bad_header_length);
  auto tiny_total = b;
  put16(tiny_total, 2, 10);
  EXPECT_EQ(parse_ip(tiny_total).error, HeaderError::bad_total_length);
  auto version = b;
  version[0] = std::byte{0x75};
  EXPECT_EQ(parse_ip(version).error, HeaderError::bad_version);
  auto v6 = make_ip_packet(6, 17, 0);
  v6[6] = std::byte{0};  // hop-by-hop header that is not there
  EXPECT_EQ(parse_ip(v6).error, HeaderError::bad_extension);
  auto cut = make_ip_packet(4, 6, 0);
  EXPECT_EQ(parse_ip(std::span(cut).first(30)).error, HeaderError::truncated_l4);
}

TEST(IpHeaders, IncrementalUpdateMatchesFullRecompute) {
  std::mt19937 gen(7);
  for (int proto : {6, 17, 1}) {
    for (int version : {4, 6}) {
      const uint8_t p = version == 6 && proto == 1 ? 58 : static_cast<uint8_t>(proto);
      for (int trial = 0; trial < 200; ++trial) {
        auto b =
            make_ip_packet(version, p, 1 + trial % 37, 1000, 2000, static_cast<uint8_t>(trial));
        const IpHeaders h = parse_ip(b);
        const size_t csum_at = h.l4_offset + static_cast<size_t>(l4_checksum_offset(h.protocol));
        size_t byte = h.l4_offset + gen() % (b.size() - h.l4_offset);
        if (byte == csum_at || byte == csum_at + 1) {
          continue;
        }
        const size_t word = byte & ~size_t{1};
        auto read16 = [&](size_t at) {
          return static_cast<uint16_t>(
              (std::to_integer<unsigned>(b[at]) << 8) |
              (at + 1 < b.size() ? std::to_integer<unsigned>(b[at + 1]) : 0U));
        };
        const uint16_t old_word = read16(word);
        b[byte] ^= std::byte{0x10};
        const uint16_t new_word = read16(word);
        const uint16_t updated = checksum_update(read16(csum_at), old_word, new_word);
        put16(b, csum_at, updated);
        if (p == 17 && updated == 0) {
          continue;  // UDP's 0 special case is the corruptor's business
        }
        EXPECT_TRUE(checksums_valid(b)) << "proto " << int(p) << " v" << version;
      }
    }
  }
}

}  // namespace
}  // namespace badlink
