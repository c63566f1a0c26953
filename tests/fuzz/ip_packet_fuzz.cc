// Fuzz target: bytes as an IP packet through parse_ip(), the checksum fixes and corrupt_packet().
// Where the whole transport part is present, the checksum fix is idempotent, and a bit flipped
// by corrupt leaves the incrementally updated checksum equal to one computed from scratch.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "checksum_oracle.hh"
#include "core/ip_headers.hh"
#include "core/packet_pool.hh"
#include "core/rng.hh"
#include "fuzz_check.hh"
#include "impairments/corrupt.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace badlink;
  if (size < 2) {
    return 0;
  }
  // First byte: the corruption's seed and whether the kernel left the checksum partial.
  const uint8_t knobs = data[0];
  const std::span<const std::byte> ip(reinterpret_cast<const std::byte*>(data + 1), size - 1);

  const IpHeaders h = parse_ip(ip);
  fuzz::check(!to_string(h.error).empty(), "every header error has a name");
  if (!h.ok()) {
    return 0;
  }
  fuzz::check(h.version == 4 || h.version == 6, "a parsed packet is IPv4 or IPv6");
  fuzz::check(h.l4_offset <= ip.size(), "the L4 header starts inside the packet");
  fuzz::check(h.l4_offset <= h.ip_length, "the L4 header starts inside the IP length");

  static PacketPool pool;
  Packet* packet = pool.allocate(ip.size());
  if (packet == nullptr) {
    return 0;  // larger than the largest pool class
  }
  std::memcpy(packet->data(), ip.data(), ip.size());
  packet->length = static_cast<uint32_t>(ip.size());
  packet->wire_length = packet->length;
  packet->l3_offset = 0;
  packet->address.checksum_partial = (knobs & 1) != 0;
  std::span<std::byte> bytes = packet->l3();

  fix_ipv4_checksum(bytes, h);
  const bool fixed = fix_l4_checksum(bytes, h);
  const std::optional<size_t> field = fuzz::checksum_field(bytes, h);
  fuzz::check(fixed == field.has_value(), "fix_l4_checksum fixes exactly the packets it can");
  if (fixed) {
    const uint16_t before = fuzz::load16(bytes, *field);
    fuzz::check(fuzz::recomputed_checksum(bytes, h) == before, "the checksum fix is idempotent");
  }

  Rng rng(knobs >> 1);
  const std::vector<std::byte> original(bytes.begin(), bytes.end());
  const CorruptResult result = corrupt_packet(*packet, h, rng);
  if (result.flipped) {
    fuzz::check(result.bit / 8 >= h.l4_offset && result.bit / 8 < bytes.size(),
                "the flipped bit lies after the IP header");
    size_t differing = 0;
    for (size_t i = 0; i < bytes.size(); ++i) {
      differing += bytes[i] != original[i] ? 1 : 0;
    }
    fuzz::check(differing >= 1 && differing <= 3, "one bit and at most the checksum changed");
  }
  if (fixed && result.flipped && result.checksum_fixed && !packet->address.checksum_partial) {
    const std::optional<uint16_t> scratch = fuzz::recomputed_checksum(bytes, h);
    fuzz::check(scratch.has_value() && fuzz::same_checksum(*scratch, fuzz::load16(bytes, *field)),
                "corrupt's incremental checksum equals one computed from scratch");
  }
  pool.release(packet);
  return 0;
}
