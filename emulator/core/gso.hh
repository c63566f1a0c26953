// Cutting a TCP/UDP GSO super-packet (one IP packet of up to 64 KB, as NFQUEUE hands it over
// with NFQA_CFG_F_GSO) into the wire packets it stands for, in user space and without syscalls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/ip_headers.hh"

namespace badlink {

// How a super-packet divides: every wire packet repeats the headers and carries up to
// `segment_payload` bytes of the payload; only the last one may carry less.
struct GsoLayout {
  // IP header incl. IPv4 options or IPv6 extension headers + L4 header incl. TCP options.
  uint32_t header_bytes = 0;
  uint32_t payload_bytes = 0;    // L4 payload of the whole super-packet
  uint32_t segment_payload = 0;  // gso_size
  uint32_t segments = 0;         // ceil(payload_bytes / segment_payload), at least 1

  // IP bytes on the wire once segmented: what a rate limiter should charge.
  uint32_t wire_bytes() const { return payload_bytes + segments * header_bytes; }
};

// The layout of `ip` (parsed into `h`) cut into segments of `segment_payload` payload bytes.
// nullopt unless it is TCP or UDP over IPv4/IPv6, not a fragment, with a sane TCP data offset,
// segment_payload > 0 and all headers present: the payload need not be (a copy of the headers
// that stands for a packet the kernel keeps will do); gso_write_segment() needs every byte.
std::optional<GsoLayout> gso_layout(std::span<const std::byte> ip, const IpHeaders& h,
                                    uint32_t segment_payload);

// The segment payload a device with this MTU carries for this packet's headers: mtu minus the
// IP header(s) and the L4 header, TCP options included (the MSS as the stack computes it). 0
// when not TCP/UDP, a fragment, the L4 header is not all present, or the MTU is too small.
// The payload itself need not be present (a snapped capture will do).
uint32_t gso_size_for_mtu(std::span<const std::byte> ip, const IpHeaders& h, uint32_t mtu);

// Writes wire packet `index` (0-based, < layout.segments) of the super-packet `ip` into `out`
// and returns the bytes written; 0 when `index` is out of range, `out` is too small for this
// segment, or `layout` does not fit `ip`. A buffer of layout.header_bytes +
// layout.segment_payload bytes always suffices; the last segment may be shorter.
//
// What changes from the super-packet's headers, as the kernel's tcp/udp GSO does it: IPv4
// total length, id (original + index, mod 2^16) and header checksum; IPv6 payload length; TCP
// sequence number (+ index * segment_payload), FIN and PSH kept on the last segment only, CWR
// on the first only; UDP length. The L4 checksum is computed in full from scratch: the
// super-packet's field may hold only the pseudo-header sum (CHECKSUM_PARTIAL) or anything else.
// No allocation: one copy of the headers and the payload slice, one checksum pass.
size_t gso_write_segment(std::span<const std::byte> ip, const IpHeaders& h, const GsoLayout& layout,
                         uint32_t index, std::span<std::byte> out);

}  // namespace badlink
