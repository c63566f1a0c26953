// The fuzz targets' reference for an L4 checksum: the field as fix_l4_checksum() computes it
// from scratch over a copy, compared in one's complement (0x0000 and 0xffff are both zero).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/ip_headers.hh"

namespace badlink::fuzz {

inline uint16_t load16(std::span<const std::byte> b, size_t at) {
  return static_cast<uint16_t>((std::to_integer<unsigned>(b[at]) << 8) |
                               std::to_integer<unsigned>(b[at + 1]));
}

// Where the L4 checksum field of `ip` lies, when fix_l4_checksum() would compute it.
inline std::optional<size_t> checksum_field(std::span<const std::byte> ip, const IpHeaders& h) {
  const int field = l4_checksum_offset(h.protocol);
  if (!h.ok() || field < 0 || h.fragment || h.ip_length > ip.size() ||
      h.l4_offset + field + 2U > h.ip_length) {
    return std::nullopt;
  }
  return h.l4_offset + static_cast<size_t>(field);
}

// The checksum computed from scratch over the packet as it is now; nullopt as above.
inline std::optional<uint16_t> recomputed_checksum(std::span<const std::byte> ip,
                                                   const IpHeaders& h) {
  const std::optional<size_t> at = checksum_field(ip, h);
  if (!at) {
    return std::nullopt;
  }
  std::vector<std::byte> copy(ip.begin(), ip.end());
  if (!fix_l4_checksum(copy, h)) {
    return std::nullopt;
  }
  return load16(copy, *at);
}

inline bool same_checksum(uint16_t a, uint16_t b) {
  const auto zero = [](uint16_t v) { return v == 0 || v == 0xffff; };
  return a == b || (zero(a) && zero(b));
}

}  // namespace badlink::fuzz
