// Builders for well-formed IPv4/IPv6 TCP/UDP/ICMP packets used across the unit tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/ip_headers.hh"

namespace badlink::testing {

inline void put16(std::vector<std::byte>& b, size_t at, uint16_t v) {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xff);
}

// An IPv4 (192.0.2.1 -> 198.51.100.2) or IPv6 (2001:db8::1 -> 2001:db8::2) packet carrying
// `payload` bytes of `protocol` (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6), checksums correct.
inline std::vector<std::byte> make_ip_packet(int version, uint8_t protocol, size_t payload,
                                             uint16_t sport = 40000, uint16_t dport = 5000,
                                             uint8_t fill_seed = 1) {
  const size_t ip_len = version == 4 ? 20 : 40;
  const size_t l4_len = protocol == 6 ? 20 : protocol == 17 ? 8 : 8;
  std::vector<std::byte> b(ip_len + l4_len + payload);
  if (version == 4) {
    b[0] = std::byte{0x45};
    put16(b, 2, static_cast<uint16_t>(b.size()));
    b[8] = std::byte{64};
    b[9] = static_cast<std::byte>(protocol);
    const uint8_t src[4] = {192, 0, 2, 1};
    const uint8_t dst[4] = {198, 51, 100, 2};
    for (int i = 0; i < 4; ++i) {
      b[12 + i] = static_cast<std::byte>(src[i]);
      b[16 + i] = static_cast<std::byte>(dst[i]);
    }
  } else {
    b[0] = std::byte{0x60};
    put16(b, 4, static_cast<uint16_t>(b.size() - 40));
    b[6] = static_cast<std::byte>(protocol);
    b[7] = std::byte{64};
    b[8] = std::byte{0x20};
    b[9] = std::byte{0x01};
    b[10] = std::byte{0x0d};
    b[11] = std::byte{0xb8};
    b[23] = std::byte{1};
    b[24] = std::byte{0x20};
    b[25] = std::byte{0x01};
    b[26] = std::byte{0x0d};
    b[27] = std::byte{0xb8};
    b[39] = std::byte{2};
  }
  if (protocol == 6 || protocol == 17) {
    put16(b, ip_len, sport);
    put16(b, ip_len + 2, dport);
  }
  if (protocol == 17) {
    put16(b, ip_len + 4, static_cast<uint16_t>(l4_len + payload));
  }
  if (protocol == 6) {
    b[ip_len + 12] = std::byte{0x50};
  }
  if (protocol == 1 || protocol == 58) {
    b[ip_len] = std::byte{8};
  }
  for (size_t i = 0; i < payload; ++i) {
    b[ip_len + l4_len + i] = static_cast<std::byte>((i * 131 + fill_seed) & 0xff);
  }
  const IpHeaders h = parse_ip(b);
  fix_ipv4_checksum(b, h);
  fix_l4_checksum(b, h);
  return b;
}

// True when the packet's IPv4 header checksum (if any) and L4 checksum verify.
inline bool checksums_valid(std::span<const std::byte> ip) {
  const IpHeaders h = parse_ip(ip);
  if (!h.ok()) {
    return false;
  }
  if (h.version == 4 && checksum_fold(checksum_add(0, ip.first(h.l4_offset))) != 0xffff) {
    return false;
  }
  std::vector<std::byte> copy(ip.begin(), ip.end());
  const int field = l4_checksum_offset(h.protocol);
  if (field < 0) {
    return true;
  }
  const size_t at = h.l4_offset + static_cast<size_t>(field);
  const std::byte hi = copy[at];
  const std::byte lo = copy[at + 1];
  fix_l4_checksum(copy, h);
  return copy[at] == hi && copy[at + 1] == lo;
}

}  // namespace badlink::testing
