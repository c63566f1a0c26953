// GSO segmentation in user space; see gso.hh.
#include "core/gso.hh"

#include <algorithm>
#include <cstring>

namespace badlink {

namespace {
constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpCwr = 0x80;
constexpr size_t kIpv6Header = 40;

uint8_t u8(std::span<const std::byte> b, size_t i) { return std::to_integer<uint8_t>(b[i]); }
uint16_t u16(std::span<const std::byte> b, size_t i) {
  return static_cast<uint16_t>((u8(b, i) << 8) | u8(b, i + 1));
}
uint32_t u32(std::span<const std::byte> b, size_t i) {
  return (static_cast<uint32_t>(u16(b, i)) << 16) | u16(b, i + 2);
}
void put16(std::span<std::byte> b, size_t i, uint16_t v) {
  b[i] = static_cast<std::byte>(v >> 8);
  b[i + 1] = static_cast<std::byte>(v & 0xff);
}
void put32(std::span<std::byte> b, size_t i, uint32_t v) {
  put16(b, i, static_cast<uint16_t>(v >> 16));
  put16(b, i + 2, static_cast<uint16_t>(v & 0xffff));
}

// Bytes from the start of the IP header to the end of the TCP/UDP header, or 0 when this is not
// an unfragmented TCP/UDP packet whose L4 header lies within both the buffer and the IP length.
uint32_t header_bytes_of(std::span<const std::byte> ip, const IpHeaders& h) {
  if (!h.ok() || h.fragment || (h.version != 4 && h.version != 6) ||
      (h.protocol != kTcp && h.protocol != kUdp)) {
    return 0;
  }
  const size_t limit = std::min<size_t>(ip.size(), h.ip_length);
  size_t l4_header = 8;
  if (h.protocol == kTcp) {
    if (h.l4_offset + 20U > limit) {
      return 0;
    }
    l4_header = static_cast<size_t>(u8(ip, h.l4_offset + 12U) >> 4) * 4;
    if (l4_header < 20) {
      return 0;
    }
  }
  const size_t total = h.l4_offset + l4_header;
  return total <= limit ? static_cast<uint32_t>(total) : 0;
}

// ceil(payload / segment_payload), but at least 1: a super-packet without payload is one packet.
uint32_t segment_count(uint32_t payload, uint32_t segment_payload) {
  return std::max<uint32_t>(
      1, static_cast<uint32_t>((uint64_t{payload} + segment_payload - 1) / segment_payload));
}
}  // namespace

std::optional<GsoLayout> gso_layout(std::span<const std::byte> ip, const IpHeaders& h,
                                    uint32_t segment_payload) {
  if (segment_payload == 0) {
    return std::nullopt;
  }
  const uint32_t header_bytes = header_bytes_of(ip, h);
  if (header_bytes == 0 || header_bytes > h.ip_length) {
    return std::nullopt;
  }
  GsoLayout layout;
  layout.header_bytes = header_bytes;
  layout.payload_bytes = h.ip_length - header_bytes;
  layout.segment_payload = segment_payload;
  layout.segments = segment_count(layout.payload_bytes, segment_payload);
  return layout;
}

uint32_t gso_size_for_mtu(std::span<const std::byte> ip, const IpHeaders& h, uint32_t mtu) {
  const uint32_t header_bytes = header_bytes_of(ip, h);
  if (header_bytes == 0 || mtu <= header_bytes) {
    return 0;
  }
  return mtu - header_bytes;
}

size_t gso_write_segment(std::span<const std::byte> ip, const IpHeaders& h, const GsoLayout& layout,
                         uint32_t index, std::span<std::byte> out) {
  // The layout may come from elsewhere: check it against this packet before trusting a length.
  if (index >= layout.segments || layout.segment_payload == 0 || ip.size() < h.ip_length ||
      layout.header_bytes != header_bytes_of(ip, h) ||
      uint64_t{layout.header_bytes} + layout.payload_bytes != h.ip_length ||
      layout.segments != segment_count(layout.payload_bytes, layout.segment_payload)) {
    return 0;
  }
  const uint64_t start = uint64_t{index} * layout.segment_payload;
  const auto payload =
      static_cast<size_t>(std::min<uint64_t>(layout.segment_payload, layout.payload_bytes - start));
  const size_t length = layout.header_bytes + payload;
  if (out.size() < length) {
    return 0;
  }
  std::memcpy(out.data(), ip.data(), layout.header_bytes);
  std::memcpy(out.data() + layout.header_bytes, ip.data() + layout.header_bytes + start, payload);
  const std::span<std::byte> seg = out.first(length);

  const bool first = index == 0;
  const bool last = index + 1 == layout.segments;
  if (h.version == 4) {
    put16(seg, 2, static_cast<uint16_t>(length));
    put16(seg, 4, static_cast<uint16_t>(u16(ip, 4) + index));
  } else {
    put16(seg, 4, static_cast<uint16_t>(length - kIpv6Header));
  }
  const size_t l4 = h.l4_offset;
  if (h.protocol == kTcp) {
    put32(seg, l4 + 4, u32(ip, l4 + 4) + static_cast<uint32_t>(start));
    uint8_t flags = u8(ip, l4 + 13);
    if (!last) {
      flags &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
    }
    if (!first) {
      flags &= static_cast<uint8_t>(~kTcpCwr);
    }
    seg[l4 + 13] = static_cast<std::byte>(flags);
  } else {
    put16(seg, l4 + 4, static_cast<uint16_t>(length - l4));
  }

  IpHeaders seg_h = h;
  seg_h.ip_length = static_cast<uint32_t>(length);
  fix_ipv4_checksum(seg, seg_h);
  fix_l4_checksum(seg, seg_h);
  return length;
}

}  // namespace badlink
