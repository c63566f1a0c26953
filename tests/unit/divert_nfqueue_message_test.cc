// NFQUEUE packet messages: decoding (lengths never trusted) and the divert address they map to.
#include <arpa/inet.h>
#include <endian.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "divert/linux/nfqueue_message.hh"
#include "test_packets.hh"

namespace badlink {
namespace {

struct MessageSpec {
  uint16_t queue = 4200;
  uint32_t id = 17;
  uint8_t hook = NF_INET_LOCAL_OUT;
  uint16_t hw_protocol = 0x0800;
  std::optional<uint32_t> indev;
  std::optional<uint32_t> outdev;
  std::optional<uint32_t> mark;
  std::optional<uint32_t> skb_info;
  std::optional<uint32_t> cap_len;
  std::optional<std::pair<uint64_t, uint64_t>> timestamp;  // seconds, microseconds
  std::optional<size_t> timestamp_bytes;                   // a damaged attribute's size
  bool header = true;
  std::vector<std::byte> payload;
};

// Builds the message as the kernel's nfqnl_build_packet_message() lays it out.
std::vector<char> build(const MessageSpec& s) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE + s.payload.size());
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(s.queue);
  if (s.header) {
    nfqnl_msg_packet_hdr ph{};
    ph.packet_id = htonl(s.id);
    ph.hw_protocol = htons(s.hw_protocol);
    ph.hook = s.hook;
    mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof ph, &ph);
  }
  auto put = [&](int type, const std::optional<uint32_t>& v) {
    if (v) {
      mnl_attr_put_u32(nlh, static_cast<uint16_t>(type), htonl(*v));
    }
  };
  put(NFQA_MARK, s.mark);
  put(NFQA_IFINDEX_INDEV, s.indev);
  put(NFQA_IFINDEX_OUTDEV, s.outdev);
  put(NFQA_SKB_INFO, s.skb_info);
  put(NFQA_CAP_LEN, s.cap_len);
  if (s.timestamp) {
    nfqnl_msg_packet_timestamp ts{};
    ts.sec = htobe64(s.timestamp->first);
    ts.usec = htobe64(s.timestamp->second);
    mnl_attr_put(nlh, NFQA_TIMESTAMP, s.timestamp_bytes.value_or(sizeof ts), &ts);
  }
  if (!s.payload.empty()) {
    mnl_attr_put(nlh, NFQA_PAYLOAD, s.payload.size(), s.payload.data());
  }
  buf.resize(nlh->nlmsg_len);
  return buf;
}

const nlmsghdr* header_of(const std::vector<char>& buf) {
  return reinterpret_cast<const nlmsghdr*>(buf.data());
}

// mnl_nlmsg_ok() takes the length as an int: 2^31 and more passed it, and 0xffffffff made the
// receive walk step by 0 forever (tests/fuzz/regressions/nfqueue_message/).
TEST(DivertNfqueueMessage, AMessageFitsOnlyWhenItsWholeLengthIsInTheBuffer) {
  std::vector<uint32_t> storage(16, 0);  // 64 bytes, aligned as the kernel's buffer
  auto* nlh = reinterpret_cast<nlmsghdr*>(storage.data());
  const int size = static_cast<int>(storage.size() * sizeof(uint32_t));
  for (const uint32_t length : {0xffffffffU, 0x80000000U, 0xfffffff0U, uint32_t(size) + 4}) {
    nlh->nlmsg_len = length;
    EXPECT_FALSE(netlink_message_fits(nlh, size)) << std::hex << length;
  }
  nlh->nlmsg_len = static_cast<uint32_t>(size);
  EXPECT_TRUE(netlink_message_fits(nlh, size));
  nlh->nlmsg_len = sizeof(nlmsghdr);
  EXPECT_TRUE(netlink_message_fits(nlh, size));
  nlh->nlmsg_len = sizeof(nlmsghdr) - 1;  // shorter than its own header
  EXPECT_FALSE(netlink_message_fits(nlh, size));
  EXPECT_FALSE(netlink_message_fits(nlh, 8));  // not even a header left
}

TEST(DivertNfqueueMessage, DecodesAnOutboundPacket) {
  MessageSpec s;
  s.outdev = 3;
  s.mark = 0x10;
  s.payload = testing::make_ip_packet(4, 17, 100);
  const std::vector<char> buf = build(s);
  const auto q = decode_packet_message(header_of(buf));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->queue, 4200);
  EXPECT_EQ(q->id, 17u);
  EXPECT_EQ(q->hook, NF_INET_LOCAL_OUT);
  EXPECT_EQ(q->hw_protocol, 0x0800);
  EXPECT_EQ(q->outdev, 3u);
  EXPECT_EQ(q->indev, 0u);
  EXPECT_EQ(q->mark, 0x10u);
  ASSERT_TRUE(q->has_payload);
  ASSERT_EQ(q->payload.size(), s.payload.size());
  EXPECT_TRUE(std::equal(q->payload.begin(), q->payload.end(), s.payload.begin()));
  EXPECT_FALSE(q->truncated());
}

TEST(DivertNfqueueMessage, KernelTimestampInNanosecondsOnlyWhenWellFormed) {
  MessageSpec s;
  s.payload = testing::make_ip_packet(4, 17, 10);
  EXPECT_EQ(decode_packet_message(header_of(build(s)))->timestamp_ns, 0);

  s.timestamp = {{1'795'000'000, 123'456}};
  auto q = decode_packet_message(header_of(build(s)));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->timestamp_ns, int64_t{1'795'000'000} * 1'000'000'000 + 123'456'000);

  s.timestamp = {{1'795'000'000, 1'000'000}};  // microseconds out of range: no stamp
  EXPECT_EQ(decode_packet_message(header_of(build(s)))->timestamp_ns, 0);
  s.timestamp = {{0, 5}};  // the epoch itself: the kernel sends nothing like it
  EXPECT_EQ(decode_packet_message(header_of(build(s)))->timestamp_ns, 0);
  s.timestamp = {{1'795'000'000, 5}};
  s.timestamp_bytes = 8;  // too short to be a timestamp: ignored, the packet still decodes
  q = decode_packet_message(header_of(build(s)));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->timestamp_ns, 0);
  EXPECT_TRUE(q->has_payload);
}

TEST(DivertNfqueueMessage, CapLenBeyondThePayloadMeansTruncated) {
  MessageSpec s;
  s.payload = testing::make_ip_packet(6, 17, 10);
  s.cap_len = static_cast<uint32_t>(s.payload.size() + 1000);
  const std::vector<char> buf = build(s);
  const auto q = decode_packet_message(header_of(buf));
  ASSERT_TRUE(q.has_value());
  EXPECT_TRUE(q->truncated());
}

TEST(DivertNfqueueMessage, NoPayloadIsReportedNotInvented) {
  MessageSpec s;
  const std::vector<char> buf = build(s);
  const auto q = decode_packet_message(header_of(buf));
  ASSERT_TRUE(q.has_value());
  EXPECT_FALSE(q->has_payload);
}

TEST(DivertNfqueueMessage, RejectsOtherMessagesAndMissingHeaders) {
  MessageSpec s;
  s.header = false;
  s.payload = testing::make_ip_packet(4, 6, 0);
  const std::vector<char> no_header = build(s);
  EXPECT_FALSE(decode_packet_message(header_of(no_header)).has_value());

  std::vector<char> other = build(MessageSpec{});
  reinterpret_cast<nlmsghdr*>(other.data())->nlmsg_type =
      (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT;
  EXPECT_FALSE(decode_packet_message(header_of(other)).has_value());
  EXPECT_FALSE(decode_packet_message(nullptr).has_value());
}

TEST(DivertNfqueueMessage, AnAttributeRunningPastTheMessageIsNotRead) {
  MessageSpec s;
  s.payload = testing::make_ip_packet(4, 17, 64);
  std::vector<char> buf = build(s);
  // Claim the payload attribute is longer than the message: decoding must not read past it.
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
  auto* attr = static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
  const char* end = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  while (reinterpret_cast<const char*>(attr) < end) {
    if (mnl_attr_get_type(attr) == NFQA_PAYLOAD) {
      attr->nla_len = static_cast<uint16_t>(attr->nla_len + 4000);
      break;
    }
    attr = mnl_attr_next(attr);
  }
  const auto q = decode_packet_message(nlh);
  ASSERT_TRUE(q.has_value());  // the header came before the damage
  EXPECT_FALSE(q->has_payload);
}

TEST(DivertNfqueueMessage, AWrongSizedU32IsIgnored) {
  MessageSpec s;
  std::vector<char> buf = build(s);
  auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data());
  const uint16_t two = 7;
  std::vector<char> bigger(buf.size() + 64);
  std::copy(buf.begin(), buf.end(), bigger.begin());
  nlh = reinterpret_cast<nlmsghdr*>(bigger.data());
  mnl_attr_put(nlh, NFQA_MARK, sizeof two, &two);  // 2 bytes where 4 belong
  const auto q = decode_packet_message(nlh);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->mark, 0u);
}

TEST(DivertNfqueueMessage, QueueModeCopiesOnlyWhatALocalSocketSent) {
  EXPECT_EQ(queue_mode_for(NF_INET_LOCAL_OUT, true), QueueMode::copy);
  EXPECT_EQ(queue_mode_for(NF_INET_LOCAL_OUT, false), QueueMode::copy);  // kernel's own (RST)
  EXPECT_EQ(queue_mode_for(NF_INET_POST_ROUTING, true), QueueMode::copy);
  EXPECT_EQ(queue_mode_for(NF_INET_POST_ROUTING, false), QueueMode::hold);  // forwarded
  EXPECT_EQ(queue_mode_for(NF_INET_LOCAL_IN, false), QueueMode::hold);
  EXPECT_EQ(queue_mode_for(NF_INET_FORWARD, false), QueueMode::hold);
  EXPECT_EQ(queue_mode_for(NF_INET_PRE_ROUTING, false), QueueMode::hold);
  // From :: (DAD, MLD while addresses are tentative): held, the raw socket could not route it.
  EXPECT_EQ(queue_mode_for(NF_INET_LOCAL_OUT, false, true), QueueMode::hold);
  EXPECT_EQ(queue_mode_for(NF_INET_POST_ROUTING, true, true), QueueMode::hold);
  EXPECT_EQ(queue_mode_for(NF_INET_FORWARD, false, true), QueueMode::hold);
}

TEST(DivertNfqueueMessage, AUidMeansALocalSocket) {
  MessageSpec s;
  s.hook = NF_INET_POST_ROUTING;
  std::vector<char> buf = build(s);
  EXPECT_FALSE(decode_packet_message(header_of(buf))->has_uid);
  std::vector<char> bigger(buf.size() + 64);
  std::copy(buf.begin(), buf.end(), bigger.begin());
  auto* nlh = reinterpret_cast<nlmsghdr*>(bigger.data());
  mnl_attr_put_u32(nlh, NFQA_UID, htonl(1000));
  EXPECT_TRUE(decode_packet_message(nlh)->has_uid);
}

TEST(DivertAddressMapping, OutboundNamesTheSendingInterface) {
  QueuedPacket q;
  q.queue = 4200;
  q.id = 99;
  q.hook = NF_INET_LOCAL_OUT;
  q.indev = 0;
  q.outdev = 5;
  q.mark = 7;
  const DivertAddress a = divert_address(q, Direction::outbound, "veth0");
  EXPECT_EQ(a.direction, Direction::outbound);
  EXPECT_EQ(a.ifindex, 5u);
  EXPECT_STREQ(a.ifname.data(), "veth0");
  EXPECT_EQ(a.queue, 4200);
  EXPECT_EQ(a.handle, 99u);
  EXPECT_FALSE(a.checksum_partial);
  EXPECT_EQ(a.gso_size, 0);
}

TEST(DivertAddressMapping, InboundNamesTheReceivingInterface) {
  QueuedPacket q;
  q.queue = 4201;
  q.hook = NF_INET_LOCAL_IN;
  q.indev = 2;
  q.outdev = 0;
  q.skb_info = NFQA_SKB_CSUMNOTREADY;
  const DivertAddress a = divert_address(q, Direction::inbound, "eth0");
  EXPECT_EQ(a.direction, Direction::inbound);
  EXPECT_EQ(a.ifindex, 2u);
  EXPECT_STREQ(a.ifname.data(), "eth0");
  EXPECT_TRUE(a.checksum_partial);
}

TEST(DivertAddressMapping, ForwardedPacketsTakeTheWanSide) {
  // Gateway mode: FORWARD -o wan is outbound (outdev = wan), FORWARD -i wan inbound.
  QueuedPacket q;
  q.hook = NF_INET_FORWARD;
  q.indev = 3;
  q.outdev = 4;
  EXPECT_EQ(divert_address(q, Direction::outbound, "wan").ifindex, 4u);
  EXPECT_EQ(divert_address(q, Direction::inbound, "wan").ifindex, 3u);
}

TEST(DivertAddressMapping, LongNamesAreCutAndTerminated) {
  const DivertAddress a =
      divert_address(QueuedPacket{}, Direction::outbound, "an-interface-name-too-long");
  EXPECT_EQ(std::string(a.ifname.data()), "an-interface-na");
  const DivertAddress none = divert_address(QueuedPacket{}, Direction::inbound, "");
  EXPECT_STREQ(none.ifname.data(), "");
}

}  // namespace
}  // namespace badlink
