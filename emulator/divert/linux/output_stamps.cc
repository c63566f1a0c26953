// OutputStamps: the nf_tables batch, written with libmnl, and its acknowledgements.
#include "divert/linux/output_stamps.hh"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include "divert/linux/nfqueue_message.hh"
#include "sys/system_error.hh"

namespace badlink {

namespace {

// Room per message: the longest (a rule of 9 expressions) takes under 1 KB.
constexpr size_t kRoom = 16384;
constexpr uint32_t kRegister = NFT_REG32_00;
constexpr const char* kBaseChain = "stamp";

const char* family_chain(IpFamily f) { return f == IpFamily::ipv4 ? "ipv4" : "ipv6"; }

// The batch being written: messages appended to one buffer.
class Batch {
 public:
  explicit Batch(uint32_t first_seq) : seq_(first_seq) {}

  nlmsghdr* begin(uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id = 0) {
    offset_ = buffer_.size();
    buffer_.resize(offset_ + kRoom);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buffer_.data() + offset_);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
    nlh->nlmsg_seq = seq_++;
    auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    g->nfgen_family = family;
    g->version = NFNETLINK_V0;
    g->res_id = htons(res_id);
    return nlh;
  }
  void end(const nlmsghdr* nlh) { buffer_.resize(offset_ + NLMSG_ALIGN(nlh->nlmsg_len)); }
  nlmsghdr* begin_nft(uint16_t message, uint16_t flags) {
    return begin(static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | message),
                 static_cast<uint16_t>(flags | NLM_F_ACK), NFPROTO_INET);
  }

  std::vector<std::byte> take() { return std::move(buffer_); }

 private:
  std::vector<std::byte> buffer_;
  size_t offset_ = 0;
  uint32_t seq_;
};

// One expression of a rule: NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { ... } }.
class Expression {
 public:
  Expression(nlmsghdr* nlh, const char* name) : nlh_(nlh) {
    element_ = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
    mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
    data_ = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
  }
  ~Expression() {
    mnl_attr_nest_end(nlh_, data_);
    mnl_attr_nest_end(nlh_, element_);
  }
  Expression(const Expression&) = delete;
  Expression& operator=(const Expression&) = delete;

  void u32(uint16_t type, uint32_t value) { mnl_attr_put_u32(nlh_, type, htonl(value)); }
  void data(uint16_t type, const void* bytes, size_t length) {
    nlattr* nest = mnl_attr_nest_start(nlh_, type);
    mnl_attr_put(nlh_, NFTA_DATA_VALUE, length, bytes);
    mnl_attr_nest_end(nlh_, nest);
  }

 private:
  nlmsghdr* nlh_;
  nlattr* element_;
  nlattr* data_;
};

// The expressions badlink's rules are made of.
void meta_load(nlmsghdr* nlh, uint32_t key) {
  Expression e(nlh, "meta");
  e.u32(NFTA_META_KEY, key);
  e.u32(NFTA_META_DREG, kRegister);
}
void compare(nlmsghdr* nlh, uint32_t op, const void* bytes, size_t length) {
  Expression e(nlh, "cmp");
  e.u32(NFTA_CMP_SREG, kRegister);
  e.u32(NFTA_CMP_OP, op);
  e.data(NFTA_CMP_DATA, bytes, length);
}
void bitwise(nlmsghdr* nlh, const void* mask, const void* xor_bytes, size_t length) {
  Expression e(nlh, "bitwise");
  e.u32(NFTA_BITWISE_SREG, kRegister);
  e.u32(NFTA_BITWISE_DREG, kRegister);
  e.u32(NFTA_BITWISE_LEN, static_cast<uint32_t>(length));
  e.data(NFTA_BITWISE_MASK, mask, length);
  e.data(NFTA_BITWISE_XOR, xor_bytes, length);
}
void payload(nlmsghdr* nlh, uint32_t base, uint32_t offset, uint32_t length) {
  Expression e(nlh, "payload");
  e.u32(NFTA_PAYLOAD_DREG, kRegister);
  e.u32(NFTA_PAYLOAD_BASE, base);
  e.u32(NFTA_PAYLOAD_OFFSET, offset);
  e.u32(NFTA_PAYLOAD_LEN, length);
}
void range(nlmsghdr* nlh, uint16_t first, uint16_t last) {
  Expression e(nlh, "range");
  e.u32(NFTA_RANGE_SREG, kRegister);
  e.u32(NFTA_RANGE_OP, NFT_RANGE_EQ);
  const uint16_t from = htons(first);
  const uint16_t to = htons(last);
  e.data(NFTA_RANGE_FROM_DATA, &from, sizeof from);
  e.data(NFTA_RANGE_TO_DATA, &to, sizeof to);
}
void verdict(nlmsghdr* nlh, int code, const char* chain = nullptr) {
  Expression e(nlh, "immediate");
  e.u32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
  nlattr* data = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
  nlattr* v = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
  mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(static_cast<uint32_t>(code)));
  if (chain != nullptr) {
    mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, chain);
  }
  mnl_attr_nest_end(nlh, v);
  mnl_attr_nest_end(nlh, data);
}
// mark = low 32 bits of `meta time` (CLOCK_REALTIME ns), lowest bit = `low_bit`; accept.
void stamp(nlmsghdr* nlh, uint32_t low_bit) {
  meta_load(nlh, NFT_META_TIME_NS);  // 8 bytes, host order: the first 4 are the low half
  const uint32_t mask = ~uint32_t{1};
  bitwise(nlh, &mask, &low_bit, sizeof mask);
  {
    Expression e(nlh, "meta");
    e.u32(NFTA_META_KEY, NFT_META_MARK);
    e.u32(NFTA_META_SREG, kRegister);
  }
  verdict(nlh, NF_ACCEPT);
}

// A rule appended to `chain`: the caller writes its expressions between begin and end.
class Rule {
 public:
  Rule(Batch& batch, const std::string& table, const char* chain) : batch_(batch) {
    nlh_ = batch.begin_nft(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
    mnl_attr_put_strz(nlh_, NFTA_RULE_TABLE, table.c_str());
    mnl_attr_put_strz(nlh_, NFTA_RULE_CHAIN, chain);
    expressions_ = mnl_attr_nest_start(nlh_, NFTA_RULE_EXPRESSIONS);
  }
  ~Rule() {
    mnl_attr_nest_end(nlh_, expressions_);
    batch_.end(nlh_);
  }
  Rule(const Rule&) = delete;
  Rule& operator=(const Rule&) = delete;
  nlmsghdr* message() { return nlh_; }

 private:
  Batch& batch_;
  nlmsghdr* nlh_;
  nlattr* expressions_;
};

void chain(Batch& batch, const std::string& table, const char* name, std::optional<int> priority) {
  nlmsghdr* nlh = batch.begin_nft(NFT_MSG_NEWCHAIN, NLM_F_CREATE);
  mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table.c_str());
  mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, name);
  if (priority) {
    nlattr* hook = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
    mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(NF_INET_LOCAL_OUT));
    mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl(static_cast<uint32_t>(*priority)));
    mnl_attr_nest_end(nlh, hook);
    mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "filter");
    mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl(NF_ACCEPT));
  }
  batch.end(nlh);
}

// The [match] host test of one family: the address under the prefix's mask.
void host_test(nlmsghdr* nlh, IpFamily family, const HostTerm& term) {
  const uint8_t proto = family == IpFamily::ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
  meta_load(nlh, NFT_META_NFPROTO);
  compare(nlh, NFT_CMP_EQ, &proto, sizeof proto);
  if (!term.host || term.host->prefix_length == 0) {
    return;
  }
  const Cidr& c = *term.host;
  const uint32_t length = family == IpFamily::ipv4 ? 4 : 16;
  const uint32_t offset =
      family == IpFamily::ipv4 ? (term.source ? 12 : 16) : (term.source ? 8 : 24);
  payload(nlh, NFT_PAYLOAD_NETWORK_HEADER, offset, length);
  std::array<uint8_t, 16> mask{};
  std::array<uint8_t, 16> zero{};
  std::array<uint8_t, 16> address{};
  for (uint32_t bit = 0; bit < c.prefix_length && bit < length * 8; ++bit) {
    mask[bit / 8] |= static_cast<uint8_t>(0x80U >> (bit % 8));
  }
  for (uint32_t i = 0; i < length; ++i) {
    address[i] = c.address[i] & mask[i];
  }
  if (c.prefix_length < length * 8) {
    bitwise(nlh, mask.data(), zero.data(), length);
  }
  compare(nlh, NFT_CMP_EQ, address.data(), length);
}

uint8_t protocol_number(Protocol p, IpFamily family) {
  switch (p) {
    case Protocol::tcp:
      return IPPROTO_TCP;
    case Protocol::udp:
      return IPPROTO_UDP;
    case Protocol::icmp:
      return family == IpFamily::ipv4 ? uint8_t{IPPROTO_ICMP} : uint8_t{IPPROTO_ICMPV6};
    case Protocol::all:
      break;
  }
  return 0;
}

// The protocol terms of one family's chain: each stamps and accepts what it selects.
void protocol_rules(Batch& batch, const StampLayout& layout, IpFamily family,
                    const MatchTerms& terms) {
  const uint32_t low_bit = stamp_low_bit(layout.skip_mark);
  const char* name = family_chain(family);
  for (const ProtocolTerm& t : terms.protocols) {
    const uint8_t number = protocol_number(t.protocol, family);
    const auto protocol_test = [&](nlmsghdr* nlh) {
      if (t.protocol != Protocol::all) {
        meta_load(nlh, NFT_META_L4PROTO);
        compare(nlh, NFT_CMP_EQ, &number, sizeof number);
      }
    };
    if (t.ports.empty()) {
      Rule r(batch, layout.table, name);
      protocol_test(r.message());
      stamp(r.message(), low_bit);
      continue;
    }
    for (const PortRange& ports : t.ports) {
      for (const uint32_t offset : {0U, 2U}) {  // either endpoint: source, then destination
        Rule r(batch, layout.table, name);
        protocol_test(r.message());
        payload(r.message(), NFT_PAYLOAD_TRANSPORT_HEADER, offset, 2);
        if (ports.first == ports.last) {
          const uint16_t port = htons(ports.first);
          compare(r.message(), NFT_CMP_EQ, &port, sizeof port);
        } else {
          range(r.message(), ports.first, ports.last);
        }
        stamp(r.message(), low_bit);
      }
    }
  }
}

void write_batch(Batch& batch, const StampLayout& layout) {
  nlmsghdr* begin = batch.begin(NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  batch.end(begin);

  nlmsghdr* table = batch.begin_nft(NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL);
  mnl_attr_put_strz(table, NFTA_TABLE_NAME, layout.table.c_str());
  mnl_attr_put_u32(table, NFTA_TABLE_FLAGS, htonl(NFT_TABLE_F_OWNER));
  batch.end(table);

  for (const IpFamily f : {IpFamily::ipv4, IpFamily::ipv6}) {
    const MatchTerms& terms = f == IpFamily::ipv4 ? layout.ipv4 : layout.ipv6;
    if (!terms.empty()) {
      chain(batch, layout.table, family_chain(f), std::nullopt);
      protocol_rules(batch, layout, f, terms);
    }
  }
  chain(batch, layout.table, kBaseChain, layout.priority);

  // The jump's tests, as badlink's iptables jump makes them: the interface, the skip mark.
  // `-o NAME` compares the name and its terminating zero; `-o NAME+` the prefix only (and
  // `-o +` any interface: no test).
  std::string wanted = layout.interface.empty() ? "lo" : layout.interface;
  const bool wildcard = wanted.back() == '+';
  if (wildcard) {
    wanted.pop_back();
  }
  std::array<char, 16> name{};
  std::memcpy(name.data(), wanted.data(), std::min(wanted.size(), name.size() - 1));
  const size_t length = std::min(wanted.size() + (wildcard ? 0 : 1), name.size());
  if (length > 0) {
    Rule r(batch, layout.table, kBaseChain);
    meta_load(r.message(), NFT_META_OIFNAME);
    compare(r.message(), layout.interface.empty() ? NFT_CMP_EQ : NFT_CMP_NEQ, name.data(), length);
    verdict(r.message(), NFT_RETURN);
  }
  {
    Rule r(batch, layout.table, kBaseChain);
    meta_load(r.message(), NFT_META_MARK);
    compare(r.message(), NFT_CMP_EQ, &layout.skip_mark, sizeof layout.skip_mark);
    verdict(r.message(), NFT_RETURN);
  }
  for (const IpFamily f : {IpFamily::ipv4, IpFamily::ipv6}) {
    const MatchTerms& terms = f == IpFamily::ipv4 ? layout.ipv4 : layout.ipv6;
    for (const HostTerm& h : terms.hosts) {
      Rule r(batch, layout.table, kBaseChain);
      host_test(r.message(), f, h);
      verdict(r.message(), NFT_JUMP, family_chain(f));
    }
  }

  nlmsghdr* end = batch.begin(NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  batch.end(end);
}

// Which message of the batch a sequence number names, for an error.
std::string what_failed(const StampLayout& layout, uint32_t seq, uint32_t first_seq) {
  // first_seq is the batch begin; then the table, then chains and rules in order.
  if (seq == first_seq + 1) {
    return "creating nf_tables table inet " + layout.table +
           " (NFT_TABLE_F_OWNER needs Linux 5.12)";
  }
  return "creating the stamping chains and rules of table inet " + layout.table + " (message " +
         std::to_string(seq - first_seq) + " of the batch)";
}

}  // namespace

std::vector<std::byte> stamp_batch(const StampLayout& layout, uint32_t first_seq) {
  Batch batch(first_seq);
  write_batch(batch, layout);
  return batch.take();
}

BatchCount count_batch(std::span<const std::byte> batch) {
  BatchCount count;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(batch.data());
  int left = static_cast<int>(batch.size());
  for (; netlink_message_fits(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
    count.acked += (nlh->nlmsg_flags & NLM_F_ACK) != 0 ? 1 : 0;
    count.rules += nlh->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE) ? 1 : 0;
  }
  return count;
}

OutputStamps::OutputStamps(const StampLayout& layout) : layout_(layout) {
  socket_ = FileDescriptor(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!socket_) {
    throw SystemError("socket(AF_NETLINK, NETLINK_NETFILTER)", errno);
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  SystemCall("bind(netlink)",
             ::bind(socket_.fd(), reinterpret_cast<const sockaddr*>(&local), sizeof local));
  const int on = 1;
  ::setsockopt(socket_.fd(), SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
  ::setsockopt(socket_.fd(), SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);

  constexpr uint32_t kFirstSeq = 1;
  const std::vector<std::byte> bytes = stamp_batch(layout, kFirstSeq);
  const BatchCount count = count_batch(bytes);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(socket_.fd(), bytes.data(), bytes.size(), 0,
               reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) < 0) {
    throw SystemError("sending the nf_tables batch of table inet " + layout_.table, errno);
  }
  // One acknowledgement per message; a refused batch is undone whole by the kernel, which
  // then reports the message that failed.
  std::vector<std::byte> buffer(MNL_SOCKET_BUFFER_SIZE);
  size_t answered = 0;
  while (answered < count.acked) {
    pollfd p{socket_.fd(), POLLIN, 0};
    const int ready = ::poll(&p, 1, 2000);
    if (ready <= 0) {
      throw SystemError("waiting for nf_tables to answer for table inet " + layout_.table,
                        ready == 0 ? ETIMEDOUT : errno);
    }
    const ssize_t n = ::recv(socket_.fd(), buffer.data(), buffer.size(), 0);
    if (n < 0) {
      throw SystemError("receiving nf_tables' answer for table inet " + layout_.table, errno);
    }
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer.data());
    int left = static_cast<int>(n);
    for (; netlink_message_fits(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) {
        continue;
      }
      ++answered;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0) {
        throw SystemError(what_failed(layout, err->msg.nlmsg_seq, kFirstSeq), -err->error);
      }
    }
  }
  rules_ = count.rules;
}

}  // namespace badlink
