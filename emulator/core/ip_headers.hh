// Reading IPv4/IPv6 headers from bytes that may lie: every length is checked against the
// buffer, and a packet that fails gets a reason instead of a crash. Also checksum helpers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace badlink {

enum class HeaderError : uint8_t {
  none,
  too_short,          // fewer bytes than an IP header
  bad_version,        // neither 4 nor 6
  bad_header_length,  // IPv4 IHL < 5 or past the buffer
  bad_total_length,   // total/payload length larger than the bytes held or smaller than the header
  bad_extension,      // IPv6 extension header runs past the buffer
  truncated_l4,       // transport header does not fit
};

std::string_view to_string(HeaderError e);

struct IpHeaders {
  HeaderError error = HeaderError::none;
  uint8_t version = 0;    // 4 or 6
  uint8_t protocol = 0;   // L4 protocol (after IPv6 extension headers)
  bool fragment = false;  // not the first fragment, or a first fragment (L4 checksum spans more)
  bool later_fragment = false;  // offset > 0: no L4 header here
  uint16_t l4_offset = 0;       // from the start of the IP header
  uint32_t ip_length = 0;       // from the IP header's own length field(s)
  std::array<uint8_t, 16> src{};
  std::array<uint8_t, 16> dst{};
  uint16_t src_port = 0;  // TCP/UDP only
  uint16_t dst_port = 0;

  bool ok() const { return error == HeaderError::none; }
};

// Parses the IP header at the start of `ip` (the bytes the capture or queue gave).
IpHeaders parse_ip(std::span<const std::byte> ip);

// One's complement sum of `data` added to `sum` (not folded, not complemented).
uint32_t checksum_add(uint32_t sum, std::span<const std::byte> data);
uint16_t checksum_fold(uint32_t sum);

// Recomputes the IPv4 header checksum in place.
void fix_ipv4_checksum(std::span<std::byte> ip, const IpHeaders& h);

// Recomputes the TCP/UDP/ICMP/ICMPv6 checksum in place from scratch; false when the packet's
// L4 part is not all present (a snapped capture or a fragment) and nothing was changed.
bool fix_l4_checksum(std::span<std::byte> ip, const IpHeaders& h);

// RFC 1624 incremental update of a checksum field after the 16-bit word at an even offset
// changed from `old_word` to `new_word` (both in network order as read from the packet).
uint16_t checksum_update(uint16_t checksum, uint16_t old_word, uint16_t new_word);

// Offset of the L4 checksum field from the start of the L4 header, or -1 when none.
int l4_checksum_offset(uint8_t protocol);

}  // namespace badlink
