// Which link of a profile a packet belongs to, decided in user space (badlink replay) exactly
// as the live mode's firewall rules decide it (divert/linux/firewall_rules.hh's plan_rules).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/ip_headers.hh"
#include "profile/profile.hh"

namespace badlink {

// Whether `match` takes a packet with these headers, as the rules plan_rules makes for it:
// - hosts and ports are either endpoint's; a host of the other IP family never matches;
// - "icmp" is ICMP in IPv4 and ICMPv6 in IPv6;
// - ports need TCP or UDP ("all" with ports is TCP and UDP) and a transport header that can be
//   read: a fragment's later pieces, and a packet cut short in it, are not taken (iptables'
//   multiport does the same); without ports every piece of a fragmented packet is;
// - the protocol is the one after IPv6 extension headers (core/ip_headers.hh's parse_ip);
// - the interface is compared when it is known (`interface` not empty); a capture does not
//   say, so there every packet is taken to have come through the match's interface.
// What the rules' jumps add (the loopback interface in host mode, the reinjection mark) is the
// live mode's, not the match's. `headers` must be readable: ok() or truncated_l4.
bool matches(const Match& match, const IpHeaders& headers, std::string_view interface = {});

class LinkMatcher {
 public:
  explicit LinkMatcher(std::span<const Link> links);

  // The index of the first link whose match takes the packet; nullopt when none does. A
  // packet whose IP header cannot be read goes where unreadable() says.
  std::optional<std::size_t> classify(const IpHeaders& headers,
                                      std::string_view interface = {}) const;

  // For a frame with no readable IP header (not IP at all, or headers that lie): the first
  // link with an empty match, whose rule takes whatever reaches it; nullopt when none is.
  std::optional<std::size_t> unreadable() const { return catch_all_; }

 private:
  std::vector<Match> matches_;
  std::optional<std::size_t> catch_all_;
};

}  // namespace badlink
