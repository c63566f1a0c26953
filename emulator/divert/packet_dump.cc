// format_dump_line: fmt::format_to_n into the caller's buffer, inet_ntop for addresses.
#include "divert/packet_dump.hh"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <array>
#include <cstring>

#include "core/ip_headers.hh"

namespace badlink {

namespace {

std::string_view protocol_name(uint8_t protocol, char (&scratch)[16]) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmp6";
    case IPPROTO_SCTP:
      return "sctp";
    case IPPROTO_GRE:
      return "gre";
    case IPPROTO_ESP:
      return "esp";
    default: {
      const auto r = fmt::format_to_n(scratch, sizeof scratch - 1, "proto {}", protocol);
      return {scratch, r.size < sizeof scratch - 1 ? r.size : sizeof scratch - 1};
    }
  }
}

bool has_ports(uint8_t protocol) {
  return protocol == IPPROTO_TCP || protocol == IPPROTO_UDP || protocol == IPPROTO_SCTP;
}

// "192.0.2.1:53", "[2001:db8::1]:53", or without the port.
std::string_view endpoint(const IpHeaders& h, const std::array<uint8_t, 16>& address, uint16_t port,
                          bool with_port, std::span<char> out) {
  char text[INET6_ADDRSTRLEN] = "?";
  ::inet_ntop(h.version == 4 ? AF_INET : AF_INET6, address.data(), text, sizeof text);
  const bool bracket = h.version == 6;
  fmt::format_to_n_result<char*> r{};
  if (with_port) {
    r = bracket ? fmt::format_to_n(out.data(), out.size(), "[{}]:{}", text, port)
                : fmt::format_to_n(out.data(), out.size(), "{}:{}", text, port);
  } else {
    r = bracket ? fmt::format_to_n(out.data(), out.size(), "[{}]", text)
                : fmt::format_to_n(out.data(), out.size(), "{}", text);
  }
  return {out.data(), std::min(r.size, out.size())};
}

}  // namespace

std::string_view format_dump_line(const Packet& packet, std::span<char> buffer) {
  const DivertAddress& a = packet.address;
  const std::string_view ifname(a.ifname.data(), ::strnlen(a.ifname.data(), a.ifname.size()));
  char unnamed[24];
  std::string_view interface = ifname;
  if (interface.empty()) {
    const auto r = fmt::format_to_n(unnamed, sizeof unnamed, "if#{}", a.ifindex);
    interface = {unnamed, std::min(r.size, sizeof unnamed)};
  }
  const IpHeaders h = parse_ip(packet.l3());
  fmt::format_to_n_result<char*> r{};
  if (!h.ok()) {
    r = fmt::format_to_n(buffer.data(), buffer.size(), "{} {} malformed ({}) len {}",
                         to_string(a.direction), interface, to_string(h.error), packet.wire_length);
  } else {
    const bool ports = has_ports(h.protocol) && !h.later_fragment;
    char src_text[64];
    char dst_text[64];
    char scratch[16];
    r = fmt::format_to_n(
        buffer.data(), buffer.size(), "{} {} {} > {} {} len {}{}", to_string(a.direction),
        interface, endpoint(h, h.src, h.src_port, ports, src_text),
        endpoint(h, h.dst, h.dst_port, ports, dst_text), protocol_name(h.protocol, scratch),
        packet.wire_length, h.fragment ? " frag" : "");
  }
  return {buffer.data(), std::min(r.size, buffer.size())};
}

std::string dump_line(const Packet& packet) {
  std::array<char, 256> buffer{};
  return std::string(format_dump_line(packet, buffer));
}

}  // namespace badlink
