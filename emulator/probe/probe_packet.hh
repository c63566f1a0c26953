// The probe packet: a header with a sequence number and the sender's CLOCK_REALTIME stamp (all
// network namespaces of one host share that clock, so receive stamp - send stamp is the one-way
// delay), followed by a pattern derived from the header, so that any flipped bit is noticed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace badlink::probe {

inline constexpr uint32_t kProbeMagic = 0x626c7072;  // "blpr"

struct ProbeHeader {
  uint32_t magic = kProbeMagic;
  uint16_t stream = 0;  // tells apart the streams of one run (late packets of an earlier one)
  uint16_t length = 0;  // the whole payload, header included, as sent
  uint64_t seq = 0;
  int64_t sent_ns = 0;  // CLOCK_REALTIME
};
static_assert(sizeof(ProbeHeader) == 24);

inline constexpr size_t kMinProbePayload = sizeof(ProbeHeader);
inline constexpr size_t kMaxProbePayload = 65000;

// IP and UDP header bytes around a payload: what a rate limiter counting IP bytes sees.
inline constexpr uint32_t kUdpIpv4Overhead = 20 + 8;
inline constexpr uint32_t kUdpIpv6Overhead = 40 + 8;

// The byte at payload offset i (i >= sizeof(ProbeHeader)) of a packet with this header.
inline uint8_t pattern_byte(const ProbeHeader& h, size_t i) {
  const uint64_t mix = (h.seq * 0x9e3779b97f4a7c15ULL) ^ static_cast<uint64_t>(h.sent_ns) ^
                       (uint64_t{h.stream} << 48) ^ h.length;
  return static_cast<uint8_t>((mix >> ((i % 8) * 8)) + i * 131U);
}

// Writes header and pattern into `payload` (its size is the packet's length).
inline void fill_probe(std::span<std::byte> payload, const ProbeHeader& h) {
  std::memcpy(payload.data(), &h, sizeof h);
  for (size_t i = sizeof h; i < payload.size(); ++i) {
    payload[i] = static_cast<std::byte>(pattern_byte(h, i));
  }
}

enum class ProbeCheck : uint8_t { ok, foreign, damaged };

// ok: a packet of `stream`, intact. foreign: not a probe packet of this stream (or its header
// was hit so hard it cannot be told). damaged: ours, but its length or pattern is wrong, so a
// bit was flipped (or the kernel trimmed it) on the way.
inline ProbeCheck check_probe(std::span<const std::byte> payload, uint16_t stream,
                              ProbeHeader& header) {
  if (payload.size() < sizeof header) {
    return ProbeCheck::foreign;
  }
  std::memcpy(&header, payload.data(), sizeof header);
  if (header.magic != kProbeMagic || header.stream != stream) {
    return ProbeCheck::foreign;
  }
  if (header.length != payload.size()) {
    return ProbeCheck::damaged;
  }
  for (size_t i = sizeof header; i < payload.size(); ++i) {
    if (payload[i] != static_cast<std::byte>(pattern_byte(header, i))) {
      return ProbeCheck::damaged;
    }
  }
  return ProbeCheck::ok;
}

}  // namespace badlink::probe
