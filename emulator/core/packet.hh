// A packet as the engine sees it: the bytes, their divert address, and the intrusive link
// that lets the timing wheel and the pool hold it without allocating.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/time.hh"

namespace badlink {

enum class Direction : uint8_t { outbound = 0, inbound = 1 };
inline constexpr size_t kDirections = 2;

constexpr std::string_view to_string(Direction d) {
  return d == Direction::outbound ? "outbound" : "inbound";
}
constexpr size_t index_of(Direction d) { return static_cast<size_t>(d); }

// Where a packet was diverted from, carried with it and handed back on reinjection, the way
// recvfrom()/sendto() on a divert(4) socket carry a sockaddr_in: the direction, the interface
// and the port. Plain data: no backend types (where a backend caught it stays in the backend).
struct DivertAddress {
  Direction direction = Direction::outbound;
  bool checksum_partial = false;  // L4 checksum not yet computed (offload); finish before send
  uint16_t gso_size = 0;          // > 0: a GSO super-packet of segments this large (payload)
  uint16_t link = 0;              // which of the profile's links it belongs to (the engine's index)
  uint16_t queue = 0;             // the divert port it came from: names its link, not a direction
  uint32_t ifindex = 0;           // receiving interface (inbound) or sending one (outbound)
  uint64_t handle = 0;            // the backend's own handle (e.g. NFQUEUE packet id)
  std::array<char, 16> ifname{};  // interface name, NUL-terminated when shorter than 16
};

// Field order matters: everything the engine touches when a packet is scheduled and handed
// out (link, times, seq, lengths, flags, direction) sits in the first 64-byte cache line, so
// expiry costs one cache miss per packet at a million pending.
struct alignas(16) Packet {
  Packet* next = nullptr;    // intrusive link: output lists and the pool's free list
  TimePoint arrival{};       // when it reached the emulator
  TimePoint departure{};     // when it leaves (set by the pipeline)
  uint64_t seq = 0;          // engine-wide arrival order; ties in departure leave in seq order
  uint32_t length = 0;       // bytes held in data()
  uint32_t wire_length = 0;  // bytes on the wire (>= length when a capture was snapped)
  uint32_t capacity = 0;     // bytes available at data()
  uint16_t l3_offset = 0;    // where the IP header starts (14 behind Ethernet, 0 for raw IP)
  uint8_t pool_class = 0;    // which size class of the pool owns it
  uint8_t flags = 0;  // kNotIp from the driver; kDuplicate, kReordered, kCorrupted, kMalformed
  // A GSO super-packet passed whole stands for `segments` wire packets, each of which carries
  // `segment_overhead` header bytes of its own beyond the first; 1 and 0 for any other packet.
  uint16_t segments = 1;
  uint16_t segment_overhead = 0;
  DivertAddress address{};  // direction first: still in the first cache line

  static constexpr uint8_t kDuplicate = 1;
  static constexpr uint8_t kReordered = 2;
  static constexpr uint8_t kCorrupted = 4;
  static constexpr uint8_t kMalformed = 8;
  static constexpr uint8_t kNotIp = 16;    // set by the driver: a non-IP frame, passed on as is
  static constexpr uint8_t kSegment = 32;  // cut from a GSO super-packet by the engine
  static constexpr uint8_t kInService = 64;  // in the wheel for its bottleneck's dequeue event

  // Bytes on the wire, all segments counted.
  uint64_t wire_bytes() const { return wire_length + uint64_t{segments - 1U} * segment_overhead; }

  std::byte* data() { return reinterpret_cast<std::byte*>(this + 1); }
  const std::byte* data() const { return reinterpret_cast<const std::byte*>(this + 1); }
  std::span<std::byte> bytes() { return {data(), length}; }
  std::span<const std::byte> bytes() const { return {data(), length}; }
  std::span<std::byte> l3() { return bytes().subspan(l3_offset); }
  std::span<const std::byte> l3() const { return bytes().subspan(l3_offset); }
};

static_assert(offsetof(Packet, address) + offsetof(DivertAddress, link) + sizeof(uint16_t) <= 64,
              "the direction and the link must stay in the first cache line");
static_assert(sizeof(Packet) % alignof(std::max_align_t) == 0,
              "packet data must start aligned behind the header");

}  // namespace badlink
