// IPv4/IPv6 header parsing that trusts no length field; see ip_headers.hh.
#include "core/ip_headers.hh"

#include <algorithm>
#include <cstring>

namespace badlink {

namespace {
uint8_t u8(std::span<const std::byte> b, size_t i) { return std::to_integer<uint8_t>(b[i]); }
uint16_t u16(std::span<const std::byte> b, size_t i) {
  return static_cast<uint16_t>((u8(b, i) << 8) | u8(b, i + 1));
}
void put16(std::span<std::byte> b, size_t i, uint16_t v) {
  b[i] = static_cast<std::byte>(v >> 8);
  b[i + 1] = static_cast<std::byte>(v & 0xff);
}

constexpr uint8_t kHopByHop = 0;
constexpr uint8_t kRouting = 43;
constexpr uint8_t kFragment = 44;
constexpr uint8_t kDestOpts = 60;
constexpr uint8_t kMobility = 135;

void read_ports(std::span<const std::byte> ip, IpHeaders& h) {
  if (h.later_fragment) {
    return;
  }
  const size_t need = h.protocol == 6                         ? 20U
                      : h.protocol == 17                      ? 8U
                      : (h.protocol == 1 || h.protocol == 58) ? 4U
                                                              : 0U;
  if (need == 0) {
    return;
  }
  if (h.l4_offset + need > ip.size() || h.l4_offset + need > h.ip_length) {
    h.error = HeaderError::truncated_l4;
    return;
  }
  if (h.protocol == 6 || h.protocol == 17) {
    h.src_port = u16(ip, h.l4_offset);
    h.dst_port = u16(ip, h.l4_offset + 2);
  }
}
}  // namespace

std::string_view to_string(HeaderError e) {
  switch (e) {
    case HeaderError::none:
      return "ok";
    case HeaderError::too_short:
      return "shorter than an IP header";
    case HeaderError::bad_version:
      return "IP version is neither 4 nor 6";
    case HeaderError::bad_header_length:
      return "IPv4 header length is wrong";
    case HeaderError::bad_total_length:
      return "IP length field disagrees with the bytes present";
    case HeaderError::bad_extension:
      return "IPv6 extension header runs past the packet";
    case HeaderError::truncated_l4:
      return "transport header is cut short";
  }
  return "unknown";
}

IpHeaders parse_ip(std::span<const std::byte> ip) {
  IpHeaders h;
  if (ip.empty()) {
    h.error = HeaderError::too_short;
    return h;
  }
  h.version = static_cast<uint8_t>(u8(ip, 0) >> 4);
  if (h.version == 4) {
    if (ip.size() < 20) {
      h.error = HeaderError::too_short;
      return h;
    }
    const size_t ihl = static_cast<size_t>(u8(ip, 0) & 0x0f) * 4;
    if (ihl < 20 || ihl > ip.size()) {
      h.error = HeaderError::bad_header_length;
      return h;
    }
    h.ip_length = u16(ip, 2);
    // A capture may hold fewer bytes than the header claims (snaplen); more is padding. What
    // cannot be is a length shorter than the header itself.
    if (h.ip_length < ihl) {
      h.error = HeaderError::bad_total_length;
      return h;
    }
    h.protocol = u8(ip, 9);
    const uint16_t frag = u16(ip, 6);
    const uint16_t offset = frag & 0x1fff;
    const bool more = (frag & 0x2000) != 0;
    h.fragment = offset != 0 || more;
    h.later_fragment = offset != 0;
    h.l4_offset = static_cast<uint16_t>(ihl);
    std::memcpy(h.src.data(), &ip[12], 4);
    std::memcpy(h.dst.data(), &ip[16], 4);
    read_ports(ip, h);
    return h;
  }
  if (h.version == 6) {
    if (ip.size() < 40) {
      h.error = HeaderError::too_short;
      return h;
    }
    h.ip_length = 40U + u16(ip, 4);
    std::memcpy(h.src.data(), &ip[8], 16);
    std::memcpy(h.dst.data(), &ip[24], 16);
    uint8_t next = u8(ip, 6);
    size_t offset = 40;
    const size_t limit = std::min<size_t>(ip.size(), h.ip_length);
    for (int guard = 0; guard < 16; ++guard) {
      if (next == kHopByHop || next == kRouting || next == kDestOpts || next == kMobility) {
        if (offset + 8 > limit) {
          h.error = HeaderError::bad_extension;
          return h;
        }
        const size_t len = (static_cast<size_t>(u8(ip, offset + 1)) + 1) * 8;
        next = u8(ip, offset);
        offset += len;
        if (offset > limit) {
          h.error = HeaderError::bad_extension;
          return h;
        }
        continue;
      }
      if (next == kFragment) {
        if (offset + 8 > limit) {
          h.error = HeaderError::bad_extension;
          return h;
        }
        const uint16_t frag = u16(ip, offset + 2);
        h.fragment = true;
        h.later_fragment = (frag & 0xfff8) != 0;
        next = u8(ip, offset);
        offset += 8;
        continue;
      }
      break;
    }
    h.protocol = next;
    h.l4_offset = static_cast<uint16_t>(offset);
    read_ports(ip, h);
    return h;
  }
  h.error = HeaderError::bad_version;
  return h;
}

uint32_t checksum_add(uint32_t sum, std::span<const std::byte> data) {
  uint64_t acc = sum;
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) {
    acc += u16(data, i);
  }
  if (i < data.size()) {
    acc += static_cast<uint32_t>(u8(data, i)) << 8;
  }
  while (acc >> 32) {
    acc = (acc & 0xffffffff) + (acc >> 32);
  }
  return static_cast<uint32_t>(acc);
}

uint16_t checksum_fold(uint32_t sum) {
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(sum);
}

uint16_t checksum_update(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
  // RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')
  uint32_t sum = static_cast<uint16_t>(~checksum);
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  return static_cast<uint16_t>(~checksum_fold(sum));
}

int l4_checksum_offset(uint8_t protocol) {
  switch (protocol) {
    case 6:
      return 16;  // TCP
    case 17:
      return 6;  // UDP
    case 1:
    case 58:
      return 2;  // ICMP, ICMPv6
    default:
      return -1;
  }
}

void fix_ipv4_checksum(std::span<std::byte> ip, const IpHeaders& h) {
  if (h.version != 4 || h.l4_offset > ip.size()) {
    return;
  }
  put16(ip, 10, 0);
  put16(ip, 10, static_cast<uint16_t>(~checksum_fold(checksum_add(0, ip.first(h.l4_offset)))));
}

bool fix_l4_checksum(std::span<std::byte> ip, const IpHeaders& h) {
  const int field = l4_checksum_offset(h.protocol);
  if (field < 0 || h.fragment || h.ip_length > ip.size() ||
      h.l4_offset + field + 2U > h.ip_length) {
    return false;
  }
  const size_t l4_len = h.ip_length - h.l4_offset;
  std::span<std::byte> l4 = ip.subspan(h.l4_offset, l4_len);
  put16(l4, static_cast<size_t>(field), 0);
  uint32_t sum = 0;
  if (h.protocol != 1) {  // pseudo-header for everything but ICMPv4
    const size_t alen = h.version == 4 ? 4 : 16;
    sum = checksum_add(sum, std::as_bytes(std::span(h.src.data(), alen)));
    sum = checksum_add(sum, std::as_bytes(std::span(h.dst.data(), alen)));
    if (h.version == 4) {
      sum += h.protocol;
      sum += static_cast<uint32_t>(l4_len);
    } else {
      sum += static_cast<uint32_t>(l4_len >> 16);
      sum += static_cast<uint32_t>(l4_len & 0xffff);
      sum += h.protocol;
    }
  }
  sum = checksum_add(sum, l4);
  uint16_t csum = static_cast<uint16_t>(~checksum_fold(sum));
  if (h.protocol == 17 && csum == 0) {
    csum = 0xffff;
  }
  put16(l4, static_cast<size_t>(field), csum);
  return true;
}

}  // namespace badlink
