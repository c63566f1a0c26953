// The nf_tables batch of OutputStamps, read back message by message: the table it owns, the
// chains, and rules that select what the iptables rules select and write the stamp.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "divert/linux/output_stamps.hh"

namespace badlink {
namespace {

struct Expr {
  std::string name;
  std::map<uint16_t, std::vector<uint8_t>> attrs;  // NFTA_*: raw payload; nested DATA values
};

struct Message {
  uint16_t type = 0;  // NFT_MSG_* (or NFNL_MSG_BATCH_*)
  uint16_t flags = 0;
  std::map<uint16_t, std::vector<uint8_t>> attrs;
  std::vector<Expr> exprs;
};

// Calls f on each attribute in [start, start + length).
template <class F>
void each_attribute(const void* start, size_t length, F f) {
  const char* end = static_cast<const char*>(start) + length;
  for (const nlattr* a = static_cast<const nlattr*>(start);
       mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a)));
       a = mnl_attr_next(a)) {
    f(a);
  }
}
template <class F>
void each_nested(const nlattr* nest, F f) {
  each_attribute(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), f);
}

std::vector<uint8_t> bytes_of(const nlattr* a) {
  const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(a));
  return {p, p + mnl_attr_get_payload_len(a)};
}

// NFTA_DATA_VALUE inside a data nest, or the nest's raw bytes.
std::vector<uint8_t> value_of(const nlattr* nest) {
  std::vector<uint8_t> out = bytes_of(nest);
  each_nested(nest, [&out](const nlattr* inner) {
    if (mnl_attr_get_type(inner) == NFTA_DATA_VALUE) {
      out = bytes_of(inner);
    }
  });
  return out;
}

std::vector<Message> read_batch(const std::vector<std::byte>& batch) {
  std::vector<Message> out;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(batch.data());
  int left = static_cast<int>(batch.size());
  for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
    Message m;
    m.type = nlh->nlmsg_type >= NLMSG_MIN_TYPE && (nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES
                 ? static_cast<uint16_t>(nlh->nlmsg_type & 0xff)
                 : nlh->nlmsg_type;
    m.flags = nlh->nlmsg_flags;
    const char* payload = static_cast<const char*>(mnl_nlmsg_get_payload(nlh));
    each_attribute(
        payload + sizeof(nfgenmsg), mnl_nlmsg_get_payload_len(nlh) - sizeof(nfgenmsg),
        [&m](const nlattr* a) {
          if (mnl_attr_get_type(a) != NFTA_RULE_EXPRESSIONS || m.type != NFT_MSG_NEWRULE) {
            m.attrs[mnl_attr_get_type(a)] = bytes_of(a);
            return;
          }
          each_nested(a, [&m](const nlattr* element) {
            Expr e;
            each_nested(element, [&e](const nlattr* part) {
              if (mnl_attr_get_type(part) == NFTA_EXPR_NAME) {
                e.name = mnl_attr_get_str(part);
              } else if (mnl_attr_get_type(part) == NFTA_EXPR_DATA) {
                each_nested(part, [&e](const nlattr* field) {
                  e.attrs[mnl_attr_get_type(field)] =
                      (field->nla_type & NLA_F_NESTED) != 0 ? value_of(field) : bytes_of(field);
                });
              }
            });
            m.exprs.push_back(std::move(e));
          });
        });
    out.push_back(std::move(m));
  }
  return out;
}

std::string str(const std::vector<uint8_t>& v) {
  return {reinterpret_cast<const char*>(v.data()),
          strnlen(reinterpret_cast<const char*>(v.data()), v.size())};
}
uint32_t be32(const std::vector<uint8_t>& v) {
  uint32_t x = 0;
  std::memcpy(&x, v.data(), std::min<size_t>(v.size(), 4));
  return ntohl(x);
}
std::vector<std::string> names(const Message& m) {
  std::vector<std::string> out;
  for (const Expr& e : m.exprs) {
    out.push_back(e.name);
  }
  return out;
}

Cidr cidr(const char* text, int prefix) {
  Cidr c;
  c.family = 4;
  inet_pton(AF_INET, text, c.address.data());
  c.prefix_length = static_cast<uint8_t>(prefix);
  c.text = std::string(text) + "/" + std::to_string(prefix);
  return c;
}

StampLayout layout_for(const Match& match) {
  StampLayout l;
  l.table = "badlink-42";
  l.skip_mark = 0x6261646c;
  l.interface = match.interface;
  l.ipv4 = match_terms(match, IpFamily::ipv4);
  return l;
}

TEST(OutputStamps, AgeWrapsAroundThe32BitMark) {
  EXPECT_EQ(stamp_age_ns(0x10, 0x7'0000'0010), 0);
  EXPECT_EQ(stamp_age_ns(0xfffffff1, 0x7'0000'0010), 0x1f);  // the low half wrapped
  EXPECT_EQ(stamp_age_ns(1'000, 1'000 + 3'000'000'000LL), 3'000'000'000LL);
  EXPECT_EQ(stamp_low_bit(0x6261646c), 1U);
  EXPECT_EQ(stamp_low_bit(0x6261646d), 0U);  // never equal to the skip mark
}

TEST(OutputStamps, AMarkIsAStampOnlyIfItDatesFromWhileTheStampsWereIn) {
  const int64_t since = 1'764'000'000'000'000'000;  // the stamps began
  const int64_t now = since + 5'000'000;            // read 5 ms later
  const auto mark_at = [](int64_t t) { return static_cast<uint32_t>(t) | 1U; };
  // Taken 40 us before the read: its time back, within the forced bit.
  const std::optional<int64_t> t = stamp_time_ns(mark_at(now - 40'000), now, since);
  ASSERT_TRUE(t.has_value());
  EXPECT_NEAR(static_cast<double>(*t), static_cast<double>(now - 40'000), 1.0);
  // Across the 32-bit wrap (every 4.29 s) as well.
  const int64_t wrap = (now | 0xffffffffLL) + 1;  // the low half is 0 here
  EXPECT_TRUE(stamp_time_ns(mark_at(wrap - 1'000), wrap + 1'000, since).has_value());
  // A mark that would date from before the stamps began is its sender's own; so is one
  // older than the limit.
  EXPECT_FALSE(stamp_time_ns(mark_at(since - 1'000'000), now, since).has_value());
  EXPECT_FALSE(stamp_time_ns(mark_at(now - 2'000'000'000), now + 1, 0).has_value());
  EXPECT_TRUE(stamp_time_ns(mark_at(now - 900'000'000), now, 0).has_value());
  // A user's mark 0x77 read 5 ms after the stamps began: taken for a stamp only if it
  // happens to date from those 5 ms.
  const std::optional<int64_t> user = stamp_time_ns(0x77, now, since);
  EXPECT_TRUE(!user || *user >= since);
}

TEST(OutputStamps, BatchCreatesAnOwnedTableItsChainsAndRules) {
  Match match;
  match.protocol = Protocol::udp;
  match.ports = {{5000, 5000}, {6000, 6010}};
  match.hosts = {cidr("192.0.2.0", 24)};
  const StampLayout layout = layout_for(match);
  const std::vector<std::byte> batch = stamp_batch(layout, 7);
  const std::vector<Message> m = read_batch(batch);
  ASSERT_GE(m.size(), 4U);
  EXPECT_EQ(m.front().type, NFNL_MSG_BATCH_BEGIN);
  EXPECT_EQ(m.back().type, NFNL_MSG_BATCH_END);

  EXPECT_EQ(m[1].type, NFT_MSG_NEWTABLE);
  EXPECT_EQ(str(m[1].attrs.at(NFTA_TABLE_NAME)), "badlink-42");
  EXPECT_EQ(be32(m[1].attrs.at(NFTA_TABLE_FLAGS)), uint32_t{NFT_TABLE_F_OWNER});
  EXPECT_NE(m[1].flags & NLM_F_EXCL, 0);  // never someone else's table of that name

  std::map<std::string, std::vector<const Message*>> rules;
  bool base_hooked = false;
  for (const Message& msg : m) {
    if (msg.type == NFT_MSG_NEWCHAIN && str(msg.attrs.at(NFTA_CHAIN_NAME)) == "stamp") {
      base_hooked = msg.attrs.count(NFTA_CHAIN_HOOK) == 1;
    }
    if (msg.type == NFT_MSG_NEWRULE) {
      EXPECT_NE(msg.flags & NLM_F_APPEND, 0);
      rules[str(msg.attrs.at(NFTA_RULE_CHAIN))].push_back(&msg);
    }
  }
  EXPECT_TRUE(base_hooked);
  EXPECT_EQ(rules.count("ipv6"), 0U);  // no IPv6 terms: no IPv6 chain, nothing stamped there
  // Base chain: loopback returns, badlink's own mark returns, then a jump per host term.
  ASSERT_EQ(rules["stamp"].size(), 4U);
  EXPECT_EQ(names(*rules["stamp"][0]), (std::vector<std::string>{"meta", "cmp", "immediate"}));
  EXPECT_EQ(str(rules["stamp"][0]->exprs[1].attrs.at(NFTA_CMP_DATA)), "lo");
  EXPECT_EQ(be32(rules["stamp"][0]->exprs[1].attrs.at(NFTA_CMP_OP)), uint32_t{NFT_CMP_EQ});
  // A /24 source test: the address under its mask.
  const Message& source = *rules["stamp"][2];
  EXPECT_EQ(names(source),
            (std::vector<std::string>{"meta", "cmp", "payload", "bitwise", "cmp", "immediate"}));
  EXPECT_EQ(be32(source.exprs[2].attrs.at(NFTA_PAYLOAD_OFFSET)), 12U);
  EXPECT_EQ(source.exprs[3].attrs.at(NFTA_BITWISE_MASK), (std::vector<uint8_t>{255, 255, 255, 0}));
  EXPECT_EQ(source.exprs[4].attrs.at(NFTA_CMP_DATA), (std::vector<uint8_t>{192, 0, 2, 0}));
  EXPECT_EQ(be32(rules["stamp"][3]->exprs[2].attrs.at(NFTA_PAYLOAD_OFFSET)), 16U);  // -d

  // The family chain: each port (either end) of udp, stamping and accepting.
  ASSERT_EQ(rules["ipv4"].size(), 4U);
  const Message& single = *rules["ipv4"][0];
  EXPECT_EQ(names(single), (std::vector<std::string>{"meta", "cmp", "payload", "cmp", "meta",
                                                     "bitwise", "meta", "immediate"}));
  EXPECT_EQ(single.exprs[1].attrs.at(NFTA_CMP_DATA), (std::vector<uint8_t>{IPPROTO_UDP}));
  EXPECT_EQ(be32(single.exprs[2].attrs.at(NFTA_PAYLOAD_OFFSET)), 0U);  // source port
  EXPECT_EQ(be32(single.exprs[4].attrs.at(NFTA_META_KEY)), uint32_t{NFT_META_TIME_NS});
  // mark = time & ~1 ^ 1: its lowest bit set, unlike the skip mark's.
  EXPECT_EQ(single.exprs[5].attrs.at(NFTA_BITWISE_MASK),
            (std::vector<uint8_t>{0xfe, 0xff, 0xff, 0xff}));
  EXPECT_EQ(single.exprs[5].attrs.at(NFTA_BITWISE_XOR), (std::vector<uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(be32(single.exprs[6].attrs.at(NFTA_META_KEY)), uint32_t{NFT_META_MARK});
  EXPECT_EQ(be32(rules["ipv4"][1]->exprs[2].attrs.at(NFTA_PAYLOAD_OFFSET)), 2U);  // dest
  EXPECT_EQ(rules["ipv4"][2]->exprs[3].name, "range");

  const BatchCount count = count_batch(batch);
  EXPECT_EQ(count.rules, 8U);
  EXPECT_EQ(count.acked, m.size() - 2);  // all but the batch's begin and end
}

TEST(OutputStamps, InterfaceTestsFollowIptablesNames) {
  Match match;
  match.interface = "eth0";
  std::vector<Message> m = read_batch(stamp_batch(layout_for(match), 1));
  const auto first_base_rule = [](const std::vector<Message>& all) -> const Message* {
    for (const Message& msg : all) {
      if (msg.type == NFT_MSG_NEWRULE && str(msg.attrs.at(NFTA_RULE_CHAIN)) == "stamp") {
        return &msg;
      }
    }
    return nullptr;
  };
  const Message* rule = first_base_rule(m);
  ASSERT_NE(rule, nullptr);
  // -o eth0: another interface returns; the name is compared with its terminating zero.
  EXPECT_EQ(be32(rule->exprs[1].attrs.at(NFTA_CMP_OP)), uint32_t{NFT_CMP_NEQ});
  EXPECT_EQ(rule->exprs[1].attrs.at(NFTA_CMP_DATA), (std::vector<uint8_t>{'e', 't', 'h', '0', 0}));

  match.interface = "eth+";  // iptables' wildcard: the prefix only
  m = read_batch(stamp_batch(layout_for(match), 1));
  rule = first_base_rule(m);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(rule->exprs[1].attrs.at(NFTA_CMP_DATA), (std::vector<uint8_t>{'e', 't', 'h'}));

  match.interface = "+";  // any interface: no interface test; the first rule is the mark's
  m = read_batch(stamp_batch(layout_for(match), 1));
  rule = first_base_rule(m);
  ASSERT_NE(rule, nullptr);
  EXPECT_EQ(be32(rule->exprs[0].attrs.at(NFTA_META_KEY)), uint32_t{NFT_META_MARK});
}

}  // namespace
}  // namespace badlink
