// The user-space link matcher: its answers on real headers, first-match-wins, and a table that
// shows it selects exactly what the iptables rules plan_rules writes for the same [match] do.
#include "profile/link_matcher.hh"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <charconv>
#include <string>
#include <vector>

#include "divert/linux/firewall_rules.hh"
#include "profile/match_set.hh"
#include "test_packets.hh"

namespace badlink {
namespace {

using testing::make_ip_packet;
using testing::put16;

Match match_of(std::string_view body) {
  const Profile p = parse_profile("[profile]\nname = \"t\"\n[match]\n" + std::string(body), "t");
  return p.single_link().match;
}

std::array<uint8_t, 16> address(const std::string& text) {
  std::array<uint8_t, 16> a{};
  const int family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
  EXPECT_EQ(inet_pton(family, text.c_str(), a.data()), 1) << text;
  return a;
}

IpHeaders headers(int version, uint8_t protocol, const std::string& src, const std::string& dst,
                  uint16_t sport = 0, uint16_t dport = 0, bool later_fragment = false) {
  IpHeaders h;
  h.version = static_cast<uint8_t>(version);
  h.protocol = protocol;
  h.src = address(src);
  h.dst = address(dst);
  h.later_fragment = later_fragment;
  h.fragment = later_fragment;
  if (!later_fragment && (protocol == 6 || protocol == 17)) {
    h.src_port = sport;
    h.dst_port = dport;
  }
  return h;
}

TEST(LinkMatcher, ReadsRealHeaders) {
  const Match udp_5000 = match_of("protocol = \"udp\"\nports = [\"5000-5100\"]\n");
  const auto v4 = make_ip_packet(4, 17, 10, 40000, 5050);
  const auto v6 = make_ip_packet(6, 17, 10, 5000, 40000);
  EXPECT_TRUE(matches(udp_5000, parse_ip(v4)));
  EXPECT_TRUE(matches(udp_5000, parse_ip(v6)));  // the source port counts too
  EXPECT_FALSE(matches(udp_5000, parse_ip(make_ip_packet(4, 6, 10, 40000, 5050))));
  EXPECT_FALSE(matches(udp_5000, parse_ip(make_ip_packet(4, 17, 10, 40000, 6000))));

  const Match icmp = match_of("protocol = \"icmp\"\n");
  EXPECT_TRUE(matches(icmp, parse_ip(make_ip_packet(4, 1, 8))));
  EXPECT_TRUE(matches(icmp, parse_ip(make_ip_packet(6, 58, 8))));  // ICMPv6 in IPv6
  EXPECT_FALSE(matches(icmp, parse_ip(make_ip_packet(4, 58, 8))));
}

// An IPv6 UDP packet behind a hop-by-hop header and a fragment header: the protocol is the one
// after them; the first piece has ports, a later piece has none.
TEST(LinkMatcher, Ipv6ExtensionHeadersAndFragments) {
  std::vector<std::byte> p = make_ip_packet(6, 17, 16, 40000, 5000);
  std::vector<std::byte> ext(16);
  ext[0] = std::byte{44};  // hop-by-hop, then a fragment header
  ext[8] = std::byte{17};  // fragment header, then UDP
  p.insert(p.begin() + 40, ext.begin(), ext.end());
  p[6] = std::byte{0};
  put16(p, 4, static_cast<uint16_t>(p.size() - 40));
  const Match udp_5000 = match_of("protocol = \"udp\"\nports = [5000]\n");
  const Match udp = match_of("protocol = \"udp\"\n");
  IpHeaders first = parse_ip(p);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.protocol, 17);
  EXPECT_TRUE(matches(udp_5000, first));

  put16(p, 40 + 8 + 2, 0x0010);  // fragment offset 2 (x 8 bytes): a later piece
  const IpHeaders later = parse_ip(p);
  ASSERT_TRUE(later.later_fragment);
  EXPECT_FALSE(matches(udp_5000, later));  // multiport takes no later piece
  EXPECT_TRUE(matches(udp, later));        // -p udp does
  EXPECT_TRUE(matches(Match{}, later));
}

TEST(LinkMatcher, HostsEitherEndpointAndInterface) {
  const Match m = match_of("hosts = [\"192.0.2.0/25\", \"2001:db8::/32\"]\ninterface = \"eth0\"\n");
  EXPECT_TRUE(matches(m, headers(4, 6, "192.0.2.1", "203.0.113.9")));
  EXPECT_TRUE(matches(m, headers(4, 6, "203.0.113.9", "192.0.2.127")));
  EXPECT_FALSE(matches(m, headers(4, 6, "203.0.113.9", "192.0.2.128")));
  EXPECT_TRUE(matches(m, headers(6, 17, "2001:db8:5::1", "2001:db9::1")));
  EXPECT_FALSE(matches(m, headers(6, 17, "2001:db9::1", "2001:db9::2")));
  EXPECT_TRUE(matches(m, headers(4, 6, "192.0.2.1", "203.0.113.9"), "eth0"));
  EXPECT_FALSE(matches(m, headers(4, 6, "192.0.2.1", "203.0.113.9"), "eth1"));
  EXPECT_TRUE(matches(m, headers(4, 6, "192.0.2.1", "203.0.113.9"), ""));  // not known
}

TEST(LinkMatcher, ClassifiesToTheFirstMatchingLink) {
  const Profile p = parse_profile(R"([profile]
name = "t"
[[link]]
name = "video"
match = { protocol = "udp", ports = ["5000-5100"] }
[[link]]
name = "v6"
match = { hosts = ["2001:db8::/32"] }
[[link]]
name = "rest"
)",
                                  "t");
  const LinkMatcher matcher(p.links);
  EXPECT_EQ(matcher.classify(parse_ip(make_ip_packet(6, 17, 4, 40000, 5000))), 0u);
  EXPECT_EQ(matcher.classify(parse_ip(make_ip_packet(6, 6, 4, 40000, 5000))), 1u);
  EXPECT_EQ(matcher.classify(parse_ip(make_ip_packet(4, 6, 4, 40000, 5000))), 2u);
  EXPECT_EQ(matcher.unreadable(), 2u);
  std::vector<std::byte> junk(30);
  junk[0] = std::byte{0x45};
  put16(junk, 2, 10);  // a total length shorter than the header
  EXPECT_FALSE(parse_ip(junk).ok());
  EXPECT_EQ(matcher.classify(parse_ip(junk)), 2u);

  const LinkMatcher no_catch_all(std::span<const Link>(p.links).first(2));
  EXPECT_EQ(no_catch_all.classify(parse_ip(make_ip_packet(4, 6, 4, 40000, 5000))), std::nullopt);
  EXPECT_EQ(no_catch_all.unreadable(), std::nullopt);
  EXPECT_EQ(no_catch_all.classify(parse_ip(junk)), std::nullopt);
}

// A transport header cut short: the protocol and hosts are known, the ports are not.
TEST(LinkMatcher, TruncatedTransportHeader) {
  std::vector<std::byte> p = make_ip_packet(4, 6, 0, 40000, 5000);
  p.resize(30);
  put16(p, 2, 30);
  const IpHeaders h = parse_ip(p);
  ASSERT_EQ(h.error, HeaderError::truncated_l4);
  EXPECT_TRUE(matches(match_of("protocol = \"tcp\"\n"), h));
  EXPECT_FALSE(matches(match_of("ports = [5000]\n"), h));
}

// --- Equivalence with the firewall rules -------------------------------------------------

// Evaluates one chain rule of plan_rules' (iptables arguments) on a packet, as iptables would:
// -s/-d CIDR, -p NAME, -m multiport --ports LIST (no later fragment), the rest up to -j ignored.
bool rule_takes(const std::vector<std::string>& args, const IpHeaders& h) {
  // iptables -s/-d with a family's CIDR, compared bit by bit.
  const auto cidr_has = [](const std::string& text, const std::array<uint8_t, 16>& a, int v) {
    const auto slash = text.find('/');
    const std::array<uint8_t, 16> net = address(text.substr(0, slash));
    const int bits = std::stoi(text.substr(slash + 1));
    EXPECT_EQ(text.find(':') == std::string::npos ? 4 : 6, v) << "a rule of the other family";
    for (int i = 0; i < bits; ++i) {
      const auto byte = static_cast<size_t>(i / 8);
      if (((net[byte] ^ a[byte]) >> (7 - i % 8) & 1) != 0) {
        return false;
      }
    }
    return true;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-j") {
      break;
    }
    if (a == "-s" && !cidr_has(args[i + 1], h.src, h.version)) {
      return false;
    }
    if (a == "-d" && !cidr_has(args[i + 1], h.dst, h.version)) {
      return false;
    }
    if (a == "-p") {
      const std::string& p = args[i + 1];
      const uint8_t want = p == "tcp" ? 6 : p == "udp" ? 17 : p == "icmp" ? 1 : 58;
      EXPECT_TRUE(p == "tcp" || p == "udp" || p == "icmp" || p == "ipv6-icmp") << p;
      if (h.protocol != want) {
        return false;
      }
    }
    if (a == "--ports") {
      if (h.later_fragment) {
        return false;
      }
      bool any = false;
      std::string_view list = args[i + 1];
      while (!list.empty()) {
        const std::string_view item = list.substr(0, list.find(','));
        list.remove_prefix(std::min(list.size(), item.size() + 1));
        const auto colon = item.find(':');
        unsigned first = 0;
        unsigned last = 0;
        std::from_chars(item.data(), item.data() + item.size(), first);
        last = first;
        if (colon != std::string_view::npos) {
          std::from_chars(item.data() + colon + 1, item.data() + item.size(), last);
        }
        for (const uint16_t port : {h.src_port, h.dst_port}) {
          any = any || (first <= port && port <= last);
        }
      }
      if (!any) {
        return false;
      }
    }
  }
  return true;
}

// The jump's interface clause for host mode's outbound: -o IFACE, or ! -o lo.
bool jump_takes(const std::vector<std::string>& args, const std::string& interface) {
  if (args.size() >= 2 && args[0] == "-o") {
    return interface == args[1];
  }
  if (args.size() >= 3 && args[0] == "!" && args[1] == "-o") {
    return interface != args[2];
  }
  ADD_FAILURE() << "no interface clause";
  return false;
}

bool rules_take(const Match& m, const IpHeaders& h, const std::string& interface) {
  FirewallLayout layout;
  const FamilyRules rules = plan_rules(m, layout, h.version == 4 ? IpFamily::ipv4 : IpFamily::ipv6);
  const std::string out_chain = chain_name(layout.owner_pid, Direction::outbound);
  bool taken = false;
  for (const RuleSpec& r : rules.chain_rules) {
    if (r.chain == out_chain && rule_takes(r.args, h)) {
      taken = true;
    }
  }
  if (!taken) {
    return false;
  }
  for (const RuleSpec& j : rules.jumps) {
    if (j.chain == "OUTPUT") {
      return jump_takes(j.args, interface);
    }
  }
  ADD_FAILURE() << "no OUTPUT jump";
  return false;
}

// For each [match], every packet of a grid (both families; TCP, UDP, ICMP, ICMPv6, GRE; hosts
// and ports inside and outside; whole packets and later fragments; two interfaces) is taken
// by matches() exactly when the rules plan_rules writes for it take it. The loopback
// interface, which host mode's jump leaves out whatever the match, is not in the grid.
TEST(LinkMatcherEquivalence, SameAnswersAsTheFirewallRules) {
  const char* const matches_table[] = {
      "",
      "protocol = \"tcp\"\n",
      "protocol = \"udp\"\n",
      "protocol = \"icmp\"\n",
      "ports = [5000]\n",
      "protocol = \"udp\"\nports = [\"5000-5100\", 443]\n",
      "protocol = \"tcp\"\nports = [443]\nhosts = [\"192.0.2.0/24\"]\n",
      "hosts = [\"192.0.2.0/24\", \"2001:db8::/32\"]\n",
      "hosts = [\"2001:db8:1::/48\"]\n",
      "hosts = [\"198.51.100.7\"]\nprotocol = \"icmp\"\n",
      "interface = \"eth0\"\n",
      "interface = \"eth1\"\nprotocol = \"udp\"\nports = [53]\n",
      // more than 15 ports: several multiport rules
      "ports = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, \"20-30\", 5000]\n",
  };
  struct Endpoints {
    const char* src;
    const char* dst;
  };
  const Endpoints v4[] = {{"192.0.2.1", "203.0.113.5"},
                          {"203.0.113.5", "198.51.100.7"},
                          {"203.0.113.5", "203.0.113.6"}};
  const Endpoints v6[] = {{"2001:db8:1::1", "2001:db9::5"},
                          {"2001:db9::5", "2001:db8::2"},
                          {"2001:db9::5", "2001:db9::6"}};
  const uint8_t protocols[] = {6, 17, 1, 58, 47};
  const std::pair<uint16_t, uint16_t> ports[] = {{40000, 5000}, {5050, 40000}, {443, 80},
                                                 {40000, 53},   {25, 40000},   {9, 9}};
  int compared = 0;
  for (const char* body : matches_table) {
    const Match m = match_of(body);
    for (const int version : {4, 6}) {
      for (const Endpoints& e : version == 4 ? std::span(v4) : std::span(v6)) {
        for (const uint8_t protocol : protocols) {
          for (const auto& [sport, dport] : ports) {
            for (const bool later : {false, true}) {
              for (const std::string interface : {"eth0", "eth1"}) {
                const IpHeaders h = headers(version, protocol, e.src, e.dst, sport, dport, later);
                EXPECT_EQ(matches(m, h, interface), rules_take(m, h, interface))
                    << "match:\n"
                    << body << "packet: IPv" << version << " proto " << int{protocol} << " "
                    << e.src << ":" << sport << " -> " << e.dst << ":" << dport
                    << (later ? " (later fragment)" : "") << " on " << interface;
                ++compared;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(compared, 9360);  // 13 matches x 2 x 3 x 5 x 6 x 2 x 2
}

// The shadow check's sets are the matcher's: where covers() says yes, no packet of the grid
// is taken by the later match and not by the earlier one; where overlaps() says no, no packet
// is taken by both.
TEST(MatchSet, CoversAndOverlapsAgreeWithTheMatcher) {
  const char* const bodies[] = {
      "",
      "protocol = \"udp\"\n",
      "protocol = \"tcp\"\n",
      "protocol = \"icmp\"\n",
      "ports = [5000]\n",
      "protocol = \"udp\"\nports = [\"5000-5100\"]\n",
      "hosts = [\"192.0.2.0/24\"]\n",
      "hosts = [\"192.0.2.0/25\", \"192.0.2.128/25\"]\n",
      "hosts = [\"2001:db8::/32\"]\n",
      "interface = \"eth0\"\n",
  };
  const IpHeaders grid[] = {
      headers(4, 17, "192.0.2.1", "203.0.113.5", 40000, 5000),
      headers(4, 17, "192.0.2.200", "203.0.113.5", 40000, 9),
      headers(4, 6, "203.0.113.5", "203.0.113.6", 5000, 40000),
      headers(4, 1, "203.0.113.5", "192.0.2.9"),
      headers(4, 17, "203.0.113.5", "203.0.113.6", 0, 0, true),
      headers(6, 17, "2001:db8::1", "2001:db9::1", 40000, 5050),
      headers(6, 58, "2001:db9::1", "2001:db9::2"),
      headers(6, 6, "2001:db9::1", "2001:db9::2", 80, 5000),
  };
  for (const char* a_body : bodies) {
    for (const char* b_body : bodies) {
      const Match a = match_of(a_body);
      const Match b = match_of(b_body);
      for (const IpHeaders& h : grid) {
        for (const std::string interface : {"eth0", "eth1"}) {
          const bool in_a = matches(a, h, interface);
          const bool in_b = matches(b, h, interface);
          if (covers(a, b)) {
            EXPECT_TRUE(!in_b || in_a) << a_body << " covers " << b_body;
          }
          if (!overlaps(a, b)) {
            EXPECT_FALSE(in_a && in_b) << a_body << " and " << b_body << " do not overlap";
          }
        }
      }
    }
  }
  EXPECT_TRUE(covers(match_of("hosts = [\"192.0.2.0/25\", \"192.0.2.128/25\"]\n"),
                     match_of("hosts = [\"192.0.2.0/24\"]\n")));
  EXPECT_FALSE(covers(match_of("hosts = [\"192.0.2.0/24\"]\n"), Match{}));
  EXPECT_TRUE(overlaps(match_of("ports = [5000]\n"), match_of("ports = [6000]\n")));  // 5000->6000
  EXPECT_FALSE(overlaps(match_of("hosts = [\"192.0.2.0/24\"]\n"),
                        match_of("hosts = [\"2001:db8::/32\"]\n")));
  EXPECT_EQ(describe(Match{}), "every packet");
  EXPECT_EQ(describe(match_of("ports = [80, \"8000-8080\"]\ninterface = \"eth0\"\n")),
            "tcp and udp, ports 80, 8000-8080, on eth0");
}

}  // namespace
}  // namespace badlink
