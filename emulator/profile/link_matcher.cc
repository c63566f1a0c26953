// The user-space twin of the firewall rules; see link_matcher.hh. No allocation per packet.
#include "profile/link_matcher.hh"

#include <algorithm>

namespace badlink {

namespace {

constexpr uint8_t kIcmp = 1;
constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kIcmpV6 = 58;

bool in_prefix(const Cidr& c, const std::array<uint8_t, 16>& address) {
  const std::size_t whole = c.prefix_length / 8;
  if (!std::equal(c.address.begin(), c.address.begin() + static_cast<std::ptrdiff_t>(whole),
                  address.begin())) {
    return false;
  }
  const int rest = c.prefix_length % 8;
  if (rest == 0) {
    return true;
  }
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (c.address[whole] & mask) == (address[whole] & mask);
}

bool in_ports(const std::vector<PortRange>& ports, uint16_t port) {
  return std::any_of(ports.begin(), ports.end(),
                     [port](const PortRange& r) { return r.first <= port && port <= r.last; });
}

bool protocol_matches(Protocol p, const IpHeaders& h) {
  switch (p) {
    case Protocol::tcp:
      return h.protocol == kTcp;
    case Protocol::udp:
      return h.protocol == kUdp;
    case Protocol::icmp:
      return h.protocol == (h.version == 4 ? kIcmp : kIcmpV6);
    case Protocol::all:
      break;
  }
  return true;
}

}  // namespace

bool matches(const Match& match, const IpHeaders& h, std::string_view interface) {
  if (!match.interface.empty() && !interface.empty() && interface != match.interface) {
    return false;
  }
  if (!match.hosts.empty() &&
      std::none_of(match.hosts.begin(), match.hosts.end(), [&h](const Cidr& c) {
        return c.family == h.version && (in_prefix(c, h.src) || in_prefix(c, h.dst));
      })) {
    return false;
  }
  if (match.ports.empty()) {
    return protocol_matches(match.protocol, h);
  }
  if ((h.protocol != kTcp && h.protocol != kUdp) || !protocol_matches(match.protocol, h) ||
      h.later_fragment || !h.ok()) {
    return false;
  }
  return in_ports(match.ports, h.src_port) || in_ports(match.ports, h.dst_port);
}

LinkMatcher::LinkMatcher(std::span<const Link> links) {
  matches_.reserve(links.size());
  for (std::size_t i = 0; i < links.size(); ++i) {
    matches_.push_back(links[i].match);
    if (!catch_all_ && links[i].match == Match{}) {
      catch_all_ = i;
    }
  }
}

std::optional<std::size_t> LinkMatcher::classify(const IpHeaders& headers,
                                                 std::string_view interface) const {
  if (!headers.ok() && headers.error != HeaderError::truncated_l4) {
    return catch_all_;
  }
  for (std::size_t i = 0; i < matches_.size(); ++i) {
    if (matches(matches_[i], headers, interface)) {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace badlink
