// plan_rules: the [match] section as iptables argument lists.
#include "divert/firewall_rules.hh"

#include <fmt/format.h>

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

std::string chain_name(int owner_pid, Direction d) {
  return std::string(kChainPrefix) + std::to_string(owner_pid) +
         (d == Direction::outbound ? "-OUT" : "-IN");
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

FamilyRules plan_rules(const Match& match, const FirewallLayout& layout, IpFamily family) {
  FamilyRules out;
  out.family = family;
  const MatchTerms terms = match_terms(match, family);
  if (terms.empty()) {
    return out;
  }
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

  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    const std::string chain = chain_name(layout.owner_pid, d);
    const uint16_t queue = d == Direction::outbound ? layout.outbound_queue : layout.inbound_queue;
    out.chains.push_back(chain);
    for (const auto& host : host_clauses) {
      for (const auto& proto : proto_clauses) {
        RuleSpec rule{chain, {}};
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
        out.chain_rules.push_back(std::move(rule));
      }
    }

    // The jump from the built-in chain.
    RuleSpec jump;
    std::vector<std::string> where;
    if (layout.mode == DiversionMode::host) {
      jump.chain = d == Direction::outbound ? "OUTPUT" : "INPUT";
      const std::string flag = d == Direction::outbound ? "-o" : "-i";
      if (!match.interface.empty()) {
        where = {flag, match.interface};
      } else {
        where = {"!", flag, "lo"};
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
