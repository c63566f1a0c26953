// Bit-flip corruption; see corrupt.hh.
#include "impairments/corrupt.hh"

#include <algorithm>
#include <cstring>

namespace badlink {

namespace {
uint16_t load16(const std::byte* p) {
  return static_cast<uint16_t>((std::to_integer<unsigned>(p[0]) << 8) |
                               std::to_integer<unsigned>(p[1]));
}
void store16(std::byte* p, uint16_t v) {
  p[0] = static_cast<std::byte>(v >> 8);
  p[1] = static_cast<std::byte>(v & 0xff);
}
}  // namespace

CorruptResult corrupt_packet(Packet& packet, const IpHeaders& h, Rng& rng) {
  CorruptResult result;
  std::span<std::byte> ip = packet.l3();
  const uint32_t end = std::min<uint32_t>(static_cast<uint32_t>(ip.size()), h.ip_length);
  if (end <= h.l4_offset) {
    return result;
  }
  const int csum_field = h.later_fragment ? -1 : l4_checksum_offset(h.protocol);
  uint32_t csum_at = 0;  // absolute offset of the checksum field, when it lies in the buffer
  bool has_csum = false;
  if (csum_field >= 0 && h.l4_offset + static_cast<uint32_t>(csum_field) + 2 <= end) {
    csum_at = h.l4_offset + static_cast<uint32_t>(csum_field);
    has_csum = true;
  }
  const uint32_t bits = (end - h.l4_offset) * 8 - (has_csum ? 16U : 0U);
  if (bits == 0) {
    return result;
  }
  uint32_t bit = static_cast<uint32_t>(rng.below(bits)) + h.l4_offset * 8;
  if (has_csum && bit >= csum_at * 8) {
    bit += 16;  // skip over the checksum field
  }
  const uint32_t byte = bit / 8;
  const uint32_t word_at = byte & ~uint32_t{1};  // 16-bit words are aligned to the IP header;
                                                 // L4 headers start at even offsets
  const uint16_t old_word = word_at + 1 < end ? load16(&ip[word_at]) : 0;
  ip[byte] ^= static_cast<std::byte>(0x80U >> (bit % 8));
  result.flipped = true;
  result.bit = bit;
  if (!has_csum || packet.address.checksum_partial) {
    result.checksum_fixed = packet.address.checksum_partial;
    return result;
  }
  uint16_t new_word = 0;
  uint16_t old_eff = old_word;
  if (word_at + 1 < end) {
    new_word = load16(&ip[word_at]);
  } else {
    // The last odd byte is summed as if padded with a zero byte.
    old_eff = static_cast<uint16_t>(
        std::to_integer<unsigned>(ip[word_at] ^ static_cast<std::byte>(0x80U >> (bit % 8))) << 8);
    new_word = static_cast<uint16_t>(std::to_integer<unsigned>(ip[word_at]) << 8);
  }
  const uint16_t csum = load16(&ip[csum_at]);
  if (h.protocol == 17 && csum == 0 && h.version == 4) {
    return result;  // IPv4 UDP without a checksum: nothing to keep consistent
  }
  uint16_t updated = checksum_update(csum, old_eff, new_word);
  if (h.protocol == 17 && updated == 0) {
    updated = 0xffff;  // UDP sends a computed 0 as all ones
  }
  store16(&ip[csum_at], updated);
  result.checksum_fixed = true;
  return result;
}

}  // namespace badlink
