// One line per diverted packet for --dump, as the classic divert interceptor printed them:
// direction, interface, addresses and ports, protocol, length.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/packet.hh"

namespace badlink {

// Writes the line (no newline) into `buffer`, cut to fit, and returns it. Never allocates:
// this runs per packet.
//   "outbound veth0 192.0.2.1:40000 > 192.0.2.2:5201 udp len 1428"
//   "inbound eth0 [2001:db8::2] > [2001:db8::1] icmp6 len 104"
//   "outbound veth0 malformed (total length past the bytes held) len 12"
std::string_view format_dump_line(const Packet& packet, std::span<char> buffer);

// The same as a string, for tests and messages.
std::string dump_line(const Packet& packet);

}  // namespace badlink
