// corrupt - flip one random bit after the IP header and fix the L4 checksum, so the damage
// reaches the application instead of being discarded by the receiver's checksum check.
#pragma once

#include "core/ip_headers.hh"
#include "core/packet.hh"
#include "core/rng.hh"

namespace badlink {

struct CorruptResult {
  bool flipped = false;
  bool checksum_fixed = false;  // false for later fragments, snapped captures, no L4 checksum
  uint32_t bit = 0;             // bit index from the start of the IP header
};

// Flips one bit uniformly among the bits after the IP header (the L4 checksum field itself
// excluded, since "fixing" it would undo the flip), then updates that checksum (RFC 1624). A
// packet whose checksum is not computed yet (checksum_partial) needs no fix: it is finished
// over the flipped bytes before sending. `h` must describe the packet (h.ok()).
CorruptResult corrupt_packet(Packet& packet, const IpHeaders& h, Rng& rng);

}  // namespace badlink
