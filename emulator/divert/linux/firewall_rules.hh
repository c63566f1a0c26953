// Which iptables rules divert a profile's [match] into the queues: computed here as plain
// argument lists, so that they are testable without root; firewall.hh installs them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "profile/profile.hh"

namespace badlink {

enum class IpFamily { ipv4, ipv6 };

std::string_view to_string(IpFamily f);         // "IPv4"
std::string_view iptables_program(IpFamily f);  // "iptables", "ip6tables"

// Where packets are taken: from this host's own traffic, or from traffic it forwards.
enum class DiversionMode {
  host,     // outbound = OUTPUT (what this host sends), inbound = INPUT (what it receives)
  gateway,  // outbound = FORWARD -o WAN, inbound = FORWARD -i WAN
};

struct FirewallLayout {
  DiversionMode mode = DiversionMode::host;
  std::string wan;  // gateway mode: the WAN interface
  uint16_t outbound_queue = 0;
  uint16_t inbound_queue = 1;
  uint32_t skip_mark = 0;  // packets badlink sends itself carry it and are never diverted
  int owner_pid = 0;       // names the chains, so that `badlink cleanup` knows whose they are
  // A reload that changes the rules builds the next generation's chains beside the running
  // ones and then swaps the jumps: two generations at most exist at once, told apart by
  // chain_name.
  int generation = 0;
};

// The table every rule goes in: mangle sees packets before the filter table can drop them.
inline constexpr std::string_view kFirewallTable = "mangle";
// Every rule badlink installs carries this comment; every chain starts with kChainPrefix.
inline constexpr std::string_view kRuleComment = "badlink";
inline constexpr std::string_view kChainPrefix = "BADLINK-";

// "BADLINK-<pid>-OUT" / "BADLINK-<pid>-IN", with "-B" for an odd generation (at most 28
// characters, the kernel's limit).
std::string chain_name(int owner_pid, Direction d, int generation = 0);

// [match] for one family as OR-ed terms: a packet is diverted when it meets any host term and
// any protocol term (and the interface). plan_rules writes them as iptables rules, and
// OutputStamps as nf_tables rules that must select exactly the same packets.
struct HostTerm {
  std::optional<Cidr> host;  // empty: any host
  bool source = true;        // the host is the packet's source (-s), else its destination (-d)

  friend bool operator==(const HostTerm&, const HostTerm&) = default;
};
struct ProtocolTerm {
  Protocol protocol = Protocol::all;  // tcp, udp, icmp (ICMPv6 for IPv6) or all
  std::vector<PortRange> ports;       // either endpoint's; empty: any. At most 15 ports, a
                                      // range counting as two (one multiport match)

  friend bool operator==(const ProtocolTerm&, const ProtocolTerm&) = default;
};
struct MatchTerms {
  std::vector<HostTerm> hosts;  // empty: nothing of this family is diverted
  std::vector<ProtocolTerm> protocols;

  bool empty() const { return hosts.empty(); }
  friend bool operator==(const MatchTerms&, const MatchTerms&) = default;
};
MatchTerms match_terms(const Match& match, IpFamily family);

// One rule: `iptables -t mangle -A chain args...` installs it, `-D chain args...` removes it.
struct RuleSpec {
  std::string chain;
  std::vector<std::string> args;

  friend bool operator==(const RuleSpec&, const RuleSpec&) = default;
};

struct FamilyRules {
  IpFamily family = IpFamily::ipv4;
  std::vector<std::string> chains;    // created first, in this order
  std::vector<RuleSpec> chain_rules;  // appended inside them: the [match] -> NFQUEUE rules
  std::vector<RuleSpec> jumps;        // inserted at the top of built-in chains, last; one per
                                      // direction, in Direction order (direction_of_jump)

  // Nothing of this family matches [match] (it names hosts of the other family only).
  bool empty() const { return chain_rules.empty(); }
};

// The direction jumps[i] of a non-empty FamilyRules leads to.
constexpr Direction direction_of_jump(size_t i) {
  return i == 0 ? Direction::outbound : Direction::inbound;
}

// One link's part of the rules: its match and the queues (divert ports) its packets go to.
struct LinkRules {
  Match match;
  uint16_t outbound_queue = 0;
  uint16_t inbound_queue = 0;
};

// The rules for one family, for links in match order: in each direction's chain, every
// link's rules in turn, so that the first link whose match takes a packet queues it (NFQUEUE
// ends the walk), as the user-space LinkMatcher decides. Where the links name different
// interfaces (host mode), each link's rules carry its own, else the jump does.
FamilyRules plan_rules(std::span<const LinkRules> links, const FirewallLayout& layout,
                       IpFamily family);

// The rules for one link and one family. The [match] test is OR-ed across rules: hosts (either endpoint)
// as -s and -d rules, ports (either endpoint) with multiport in groups of at most 15, and
// "all" with ports as a tcp and a udp rule. Every NFQUEUE rule has --queue-bypass, so that
// without a running badlink the traffic passes instead of vanishing. The jumps skip the
// reinjection mark, and in host mode without [match].interface, the loopback interface.
FamilyRules plan_rules(const Match& match, const FirewallLayout& layout, IpFamily family);

// `iptables -t mangle -A CHAIN ARGS` as one line, for logs and --help.
std::string describe(const RuleSpec& rule, IpFamily family, std::string_view verb = "-A");

}  // namespace badlink
