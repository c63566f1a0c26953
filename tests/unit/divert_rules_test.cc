// plan_rules: the iptables rules a [match] section becomes, per family and mode.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "divert/linux/firewall_rules.hh"

namespace badlink {
namespace {

using ::testing::ElementsAre;

FirewallLayout host_layout() {
  FirewallLayout l;
  l.mode = DiversionMode::host;
  l.outbound_queue = 4200;
  l.inbound_queue = 4201;
  l.skip_mark = 0x6261646c;
  l.owner_pid = 1234;
  return l;
}

Cidr cidr(int family, std::string text) {
  Cidr c;
  c.family = family;
  c.text = std::move(text);
  return c;
}

std::vector<std::string> words(std::initializer_list<const char*> list) {
  return {list.begin(), list.end()};
}

TEST(DivertRules, ChainNamesCarryThePid) {
  EXPECT_EQ(chain_name(1234, Direction::outbound), "BADLINK-1234-OUT");
  EXPECT_EQ(chain_name(4194304, Direction::inbound), "BADLINK-4194304-IN");
  EXPECT_LE(chain_name(4194304, Direction::outbound).size(), 28u);
}

// A reload builds the next generation beside the running one: its chains have other names.
TEST(DivertRules, AnOddGenerationHasChainsOfItsOwn) {
  EXPECT_EQ(chain_name(1234, Direction::outbound, 1), "BADLINK-1234-OUT-B");
  EXPECT_EQ(chain_name(1234, Direction::inbound, 2), "BADLINK-1234-IN");
  EXPECT_LE(chain_name(4194304, Direction::outbound, 1).size(), 28u);
  FirewallLayout layout = host_layout();
  layout.generation = 1;
  const FamilyRules r = plan_rules(Match{}, layout, IpFamily::ipv4);
  EXPECT_THAT(r.chains, ElementsAre("BADLINK-1234-OUT-B", "BADLINK-1234-IN-B"));
  EXPECT_EQ(r.jumps[0].args.back(), "BADLINK-1234-OUT-B");
}

// Links in file order: each one's rules queue to its own pair, the first link's before the
// second's in both chains, so that the first match wins as LinkMatcher decides.
TEST(DivertRules, LinksQueueToTheirOwnPairsInFileOrder) {
  Match video;
  video.protocol = Protocol::udp;
  video.ports = {PortRange{5000, 5000}};
  const std::vector<LinkRules> links{{video, 4200, 4201}, {Match{}, 4202, 4203}};
  const FamilyRules r = plan_rules(links, host_layout(), IpFamily::ipv4);
  EXPECT_THAT(r.chains, ElementsAre("BADLINK-1234-OUT", "BADLINK-1234-IN"));
  ASSERT_EQ(r.chain_rules.size(), 4u);
  EXPECT_EQ(r.chain_rules[0].chain, "BADLINK-1234-OUT");
  EXPECT_EQ(r.chain_rules[0].args,
            words({"-p", "udp", "-m", "multiport", "--ports", "5000", "-m", "comment",
                   "--comment", "badlink", "-j", "NFQUEUE", "--queue-num", "4200",
                   "--queue-bypass"}));
  EXPECT_EQ(r.chain_rules[1].chain, "BADLINK-1234-OUT");
  EXPECT_EQ(r.chain_rules[1].args, words({"-m", "comment", "--comment", "badlink", "-j",
                                          "NFQUEUE", "--queue-num", "4202", "--queue-bypass"}));
  EXPECT_EQ(r.chain_rules[2].chain, "BADLINK-1234-IN");
  EXPECT_EQ(r.chain_rules[2].args[13], "4201");
  EXPECT_EQ(r.chain_rules[3].args[7], "4203");
  // One interface for all (none): the jumps say it.
  EXPECT_EQ(r.jumps[0].args[0], "!");
}

// Links on different interfaces: each link's rules name its own, the jumps none.
TEST(DivertRules, LinksOnDifferentInterfacesCarryTheirOwn) {
  Match lan;
  lan.interface = "eth1";
  const std::vector<LinkRules> links{{lan, 4200, 4201}, {Match{}, 4202, 4203}};
  const FamilyRules r = plan_rules(links, host_layout(), IpFamily::ipv4);
  ASSERT_EQ(r.chain_rules.size(), 4u);
  EXPECT_THAT(std::vector<std::string>(r.chain_rules[0].args.begin(),
                                       r.chain_rules[0].args.begin() + 2),
              ElementsAre("-o", "eth1"));
  EXPECT_THAT(std::vector<std::string>(r.chain_rules[1].args.begin(),
                                       r.chain_rules[1].args.begin() + 3),
              ElementsAre("!", "-o", "lo"));
  EXPECT_THAT(std::vector<std::string>(r.chain_rules[2].args.begin(),
                                       r.chain_rules[2].args.begin() + 2),
              ElementsAre("-i", "eth1"));
  EXPECT_EQ(r.jumps[0].args[0], "-m");  // no interface clause
}

TEST(DivertRules, MatchEverythingIsOneQueueRulePerDirection) {
  const FamilyRules r = plan_rules(Match{}, host_layout(), IpFamily::ipv4);
  EXPECT_THAT(r.chains, ElementsAre("BADLINK-1234-OUT", "BADLINK-1234-IN"));
  ASSERT_EQ(r.chain_rules.size(), 2u);
  EXPECT_EQ(r.chain_rules[0].chain, "BADLINK-1234-OUT");
  EXPECT_EQ(r.chain_rules[0].args, words({"-m", "comment", "--comment", "badlink", "-j", "NFQUEUE",
                                          "--queue-num", "4200", "--queue-bypass"}));
  EXPECT_EQ(r.chain_rules[1].chain, "BADLINK-1234-IN");
  EXPECT_EQ(r.chain_rules[1].args[7], "4201");
}

// Firewall::divert puts a direction's jumps in and out by this correspondence.
TEST(DivertRules, EachJumpLeadsToTheChainOfItsDirection) {
  FirewallLayout gateway = host_layout();
  gateway.mode = DiversionMode::gateway;
  gateway.wan = "wan0";
  for (const FirewallLayout& layout : {host_layout(), gateway}) {
    for (const IpFamily family : {IpFamily::ipv4, IpFamily::ipv6}) {
      const FamilyRules r = plan_rules(Match{}, layout, family);
      ASSERT_EQ(r.jumps.size(), kDirections);
      for (size_t i = 0; i < r.jumps.size(); ++i) {
        EXPECT_EQ(r.jumps[i].args.back(), chain_name(1234, direction_of_jump(i)));
      }
    }
  }
}

TEST(DivertRules, HostModeJumpsFromOutputAndInputSkippingLoopbackAndTheMark) {
  const FamilyRules r = plan_rules(Match{}, host_layout(), IpFamily::ipv4);
  ASSERT_EQ(r.jumps.size(), 2u);
  EXPECT_EQ(r.jumps[0].chain, "OUTPUT");
  EXPECT_EQ(r.jumps[0].args,
            words({"!", "-o", "lo", "-m", "mark", "!", "--mark", "0x6261646c", "-m", "comment",
                   "--comment", "badlink", "-j", "BADLINK-1234-OUT"}));
  EXPECT_EQ(r.jumps[1].chain, "INPUT");
  EXPECT_THAT(r.jumps[1].args, ::testing::Contains("BADLINK-1234-IN"));
  EXPECT_EQ(r.jumps[1].args[1], "-i");
}

TEST(DivertRules, MatchInterfaceReplacesTheLoopbackExclusion) {
  Match m;
  m.interface = "eth0";
  const FamilyRules r = plan_rules(m, host_layout(), IpFamily::ipv6);
  EXPECT_EQ(r.jumps[0].args[0], "-o");
  EXPECT_EQ(r.jumps[0].args[1], "eth0");
  EXPECT_EQ(r.jumps[1].args[0], "-i");
  EXPECT_EQ(r.jumps[1].args[1], "eth0");
}

TEST(DivertRules, GatewayModeUsesForwardWithTheWan) {
  FirewallLayout l = host_layout();
  l.mode = DiversionMode::gateway;
  l.wan = "wan0";
  const FamilyRules r = plan_rules(Match{}, l, IpFamily::ipv4);
  ASSERT_EQ(r.jumps.size(), 2u);
  EXPECT_EQ(r.jumps[0].chain, "FORWARD");
  EXPECT_EQ(r.jumps[0].args[0], "-o");
  EXPECT_EQ(r.jumps[0].args[1], "wan0");
  EXPECT_EQ(r.jumps[0].args.back(), "BADLINK-1234-OUT");
  EXPECT_EQ(r.jumps[1].chain, "FORWARD");
  EXPECT_EQ(r.jumps[1].args[0], "-i");
  EXPECT_EQ(r.jumps[1].args.back(), "BADLINK-1234-IN");
}

TEST(DivertRules, HostsBecomeSourceAndDestinationRulesOfTheirFamilyOnly) {
  Match m;
  m.hosts = {cidr(4, "192.0.2.0/24"), cidr(6, "2001:db8::/32")};
  const FamilyRules v4 = plan_rules(m, host_layout(), IpFamily::ipv4);
  ASSERT_EQ(v4.chain_rules.size(), 4u);  // -s, -d for each of two directions
  EXPECT_THAT(v4.chain_rules[0].args, ::testing::IsSupersetOf(words({"-s", "192.0.2.0/24"})));
  EXPECT_THAT(v4.chain_rules[1].args, ::testing::IsSupersetOf(words({"-d", "192.0.2.0/24"})));
  const FamilyRules v6 = plan_rules(m, host_layout(), IpFamily::ipv6);
  ASSERT_EQ(v6.chain_rules.size(), 4u);
  EXPECT_EQ(v6.chain_rules[0].args[1], "2001:db8::/32");
}

TEST(DivertRules, HostsOfTheOtherFamilyOnlyMeanNothingToDivert) {
  Match m;
  m.hosts = {cidr(6, "2001:db8::/32")};
  const FamilyRules v4 = plan_rules(m, host_layout(), IpFamily::ipv4);
  EXPECT_TRUE(v4.empty());
  EXPECT_TRUE(v4.jumps.empty());
  EXPECT_FALSE(plan_rules(m, host_layout(), IpFamily::ipv6).empty());
}

TEST(DivertRules, PortsUseMultiportForEitherEndpoint) {
  Match m;
  m.protocol = Protocol::udp;
  m.ports = {PortRange{53, 53}, PortRange{6000, 6100}};
  const FamilyRules r = plan_rules(m, host_layout(), IpFamily::ipv4);
  ASSERT_EQ(r.chain_rules.size(), 2u);
  EXPECT_THAT(
      r.chain_rules[0].args,
      ::testing::IsSupersetOf(words({"-p", "udp", "-m", "multiport", "--ports", "53,6000:6100"})));
}

TEST(DivertRules, AllProtocolsWithPortsMeansTcpAndUdp) {
  Match m;
  m.ports = {PortRange{80, 80}};
  const FamilyRules r = plan_rules(m, host_layout(), IpFamily::ipv4);
  ASSERT_EQ(r.chain_rules.size(), 4u);
  EXPECT_EQ(r.chain_rules[0].args[1], "tcp");
  EXPECT_EQ(r.chain_rules[1].args[1], "udp");
}

TEST(DivertRules, MoreThanFifteenPortSlotsSplitIntoGroups) {
  Match m;
  m.protocol = Protocol::tcp;
  for (uint16_t p = 1; p <= 10; ++p) {
    m.ports.push_back(
        PortRange{static_cast<uint16_t>(p * 100), static_cast<uint16_t>(p * 100 + 5)});
  }
  // Ten ranges count twenty slots: groups of seven ranges (14 slots) and three.
  const FamilyRules r = plan_rules(m, host_layout(), IpFamily::ipv4);
  ASSERT_EQ(r.chain_rules.size(), 4u);
  EXPECT_EQ(r.chain_rules[0].args[5], "100:105,200:205,300:305,400:405,500:505,600:605,700:705");
  EXPECT_EQ(r.chain_rules[1].args[5], "800:805,900:905,1000:1005");
}

TEST(DivertRules, IcmpIsIcmpv6ForIpv6) {
  Match m;
  m.protocol = Protocol::icmp;
  EXPECT_EQ(plan_rules(m, host_layout(), IpFamily::ipv4).chain_rules[0].args[1], "icmp");
  EXPECT_EQ(plan_rules(m, host_layout(), IpFamily::ipv6).chain_rules[0].args[1], "ipv6-icmp");
}

TEST(DivertRules, EveryQueueRuleBypassesWithoutAListener) {
  Match m;
  m.protocol = Protocol::tcp;
  m.ports = {PortRange{80, 80}, PortRange{443, 443}};
  m.hosts = {cidr(4, "198.51.100.0/24"), cidr(4, "203.0.113.7/32")};
  const FamilyRules r = plan_rules(m, host_layout(), IpFamily::ipv4);
  ASSERT_EQ(r.chain_rules.size(), 8u);
  for (const RuleSpec& rule : r.chain_rules) {
    EXPECT_EQ(rule.args.back(), "--queue-bypass");
  }
}

TEST(DivertRules, DescribeIsACommandLine) {
  const FamilyRules r = plan_rules(Match{}, host_layout(), IpFamily::ipv6);
  EXPECT_EQ(describe(r.jumps[0], IpFamily::ipv6, "-I"),
            "ip6tables -t mangle -I OUTPUT ! -o lo -m mark ! --mark 0x6261646c -m comment "
            "--comment badlink -j BADLINK-1234-OUT");
}

}  // namespace
}  // namespace badlink
