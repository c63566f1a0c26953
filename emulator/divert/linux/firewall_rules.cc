// plan_rules: the [match] section as iptables argument lists.
#include "divert/linux/firewall_rules.hh"

#include <fmt/format.h>

#include <algorithm>

namespace badlink {

namespace {

std::string port_text(const PortRange& r) {
  return r.first == r.last ? std::to_string(r.first)
                           : std::to_string(r.first) + ":" + std::to_string(r.last);
}

// Multiport takes up to 15 ports, a range counting as two.
std::vector<std::vector<PortRange>> port_groups(const std::vector<PortRange>& ports) {
  std::vector<std::vector<PortRange>> groups;
  std::vector<PortRange> current;
  int used = 0;
  for (const PortRange& r : ports) {
    const int cost = r.first == r.last ? 1 : 2;
    if (used + cost > 15) {
      groups.push_back(std::move(current));
      current.clear();
      used = 0;
    }
    current.push_back(r);
    used += cost;
  }
  if (!current.empty()) {
    groups.push_back(std::move(current));
  }
  return groups;
}

std::string ports_text(const std::vector<PortRange>& group) {
  std::string out;
  for (const PortRange& r : group) {
    if (!out.empty()) {
      out += ',';
    }
    out += port_text(r);
  }
  return out;
}

// As iptables spells it: ip6tables names ICMPv6 "ipv6-icmp".
std::string_view protocol_name(Protocol p, IpFamily family) {
  return p == Protocol::icmp && family == IpFamily::ipv6 ? "ipv6-icmp" : to_string(p);
}

std::string queue_text(uint16_t q) { return std::to_string(q); }

std::string mark_text(uint32_t mark) { return fmt::format("0x{:x}", mark); }

}  // namespace

std::string_view to_string(IpFamily f) { return f == IpFamily::ipv4 ? "IPv4" : "IPv6"; }

std::string_view iptables_program(IpFamily f) {
  return f == IpFamily::ipv4 ? "iptables" : "ip6tables";
}

std::string chain_name(int owner_pid, Direction d, int generation) {
  return std::string(kChainPrefix) + std::to_string(owner_pid) +
         (d == Direction::outbound ? "-OUT" : "-IN") + (generation % 2 == 0 ? "" : "-B");
}

MatchTerms match_terms(const Match& match, IpFamily family) {
  MatchTerms out;
  const int wanted_family = family == IpFamily::ipv4 ? 4 : 6;
  if (match.hosts.empty()) {
    out.hosts.push_back({});
  } else {
    for (const Cidr& c : match.hosts) {
      if (c.family == wanted_family) {
        out.hosts.push_back({c, true});
        out.hosts.push_back({c, false});
      }
    }
    if (out.hosts.empty()) {
      return out;  // every host is of the other family
    }
  }
  if (match.ports.empty()) {
    out.protocols.push_back({match.protocol, {}});
    return out;
  }
  for (const Protocol p : {Protocol::tcp, Protocol::udp}) {
    if (match.protocol == Protocol::all || match.protocol == p) {
      for (std::vector<PortRange>& group : port_groups(match.ports)) {
        out.protocols.push_back({p, std::move(group)});
      }
    }
  }
  return out;
}

namespace {

// One link's chain rules for one direction, in `chain`: the [match] terms as rules that queue to
// `queue`, with the interface clause `where` (empty: the jump has it).
void append_link_rules(const Match& match, IpFamily family, const std::string& chain,
                       uint16_t queue, const std::vector<std::string>& where,
                       std::vector<RuleSpec>& out) {
  const MatchTerms terms = match_terms(match, family);
  std::vector<std::vector<std::string>> host_clauses;
  for (const HostTerm& h : terms.hosts) {
    if (h.host) {
      host_clauses.push_back({h.source ? "-s" : "-d", h.host->text});
    } else {
      host_clauses.push_back({});
    }
  }
  std::vector<std::vector<std::string>> proto_clauses;
  for (const ProtocolTerm& t : terms.protocols) {
    std::vector<std::string> clause;
    if (t.protocol != Protocol::all) {
      clause = {"-p", std::string(protocol_name(t.protocol, family))};
    }
    if (!t.ports.empty()) {
      for (const char* a : {"-m", "multiport", "--ports"}) {
        clause.emplace_back(a);
      }
      clause.push_back(ports_text(t.ports));
    }
    proto_clauses.push_back(std::move(clause));
  }
  for (const auto& host : host_clauses) {
    for (const auto& proto : proto_clauses) {
      RuleSpec rule{chain, where};
      rule.args.insert(rule.args.end(), host.begin(), host.end());
      rule.args.insert(rule.args.end(), proto.begin(), proto.end());
      for (const char* a : {"-m", "comment", "--comment"}) {
        rule.args.emplace_back(a);
      }
      rule.args.emplace_back(kRuleComment);
      for (const std::string& a :
           {std::string("-j"), std::string("NFQUEUE"), std::string("--queue-num"),
            queue_text(queue), std::string("--queue-bypass")}) {
        rule.args.push_back(a);
      }
      out.push_back(std::move(rule));
    }
  }
}

// Host mode's interface clause for direction `d`: the interface named, else any but loopback.
std::vector<std::string> host_interface(const std::string& interface, Direction d) {
  const std::string flag = d == Direction::outbound ? "-o" : "-i";
  if (!interface.empty()) {
    return {flag, interface};
  }
  return {"!", flag, "lo"};
}

}  // namespace

FamilyRules plan_rules(std::span<const LinkRules> links, const FirewallLayout& layout,
                       IpFamily family) {
  FamilyRules out;
  out.family = family;
  // Where every link names the same interface (or none), the jump says it once; otherwise
  // each link's rules carry their own.
  const bool one_interface =
      std::all_of(links.begin(), links.end(), [&](const LinkRules& l) {
        return l.match.interface == links.front().match.interface;
      });
  const bool interface_in_jump = layout.mode == DiversionMode::host && one_interface;

  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    const std::string chain = chain_name(layout.owner_pid, d, layout.generation);
    for (const LinkRules& link : links) {
      const std::vector<std::string> where =
          layout.mode == DiversionMode::host && !interface_in_jump
              ? host_interface(link.match.interface, d)
              : std::vector<std::string>{};
      append_link_rules(link.match, family, chain,
                        d == Direction::outbound ? link.outbound_queue : link.inbound_queue,
                        where, out.chain_rules);
    }
    if (out.chain_rules.empty()) {
      return out;  // nothing of this family matches any link
    }
    out.chains.push_back(chain);

    // The jump from the built-in chain.
    RuleSpec jump;
    std::vector<std::string> where;
    if (layout.mode == DiversionMode::host) {
      jump.chain = d == Direction::outbound ? "OUTPUT" : "INPUT";
      if (interface_in_jump) {
        where = host_interface(links.front().match.interface, d);
      }
    } else {
      jump.chain = "FORWARD";
      where = {d == Direction::outbound ? "-o" : "-i", layout.wan};
    }
    jump.args = where;
    for (const std::string& a :
         {std::string("-m"), std::string("mark"), std::string("!"), std::string("--mark"),
          mark_text(layout.skip_mark), std::string("-m"), std::string("comment"),
          std::string("--comment"), std::string(kRuleComment), std::string("-j"), chain}) {
      jump.args.push_back(a);
    }
    out.jumps.push_back(std::move(jump));
  }
  return out;
}

FamilyRules plan_rules(const Match& match, const FirewallLayout& layout, IpFamily family) {
  const LinkRules link{match, layout.outbound_queue, layout.inbound_queue};
  return plan_rules(std::span<const LinkRules>(&link, 1), layout, family);
}

std::string describe(const RuleSpec& rule, IpFamily family, std::string_view verb) {
  std::string out =
      fmt::format("{} -t {} {} {}", iptables_program(family), kFirewallTable, verb, rule.chain);
  for (const std::string& a : rule.args) {
    out += ' ';
    out += a;
  }
  return out;
}

}  // namespace badlink
