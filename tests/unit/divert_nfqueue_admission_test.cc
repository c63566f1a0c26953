// A queued packet's direction (from its hook and interfaces, never its queue) and the admission
// decision NfqueueBackend applies to it: every hook, the gateway's WAN sides, what cannot be
// told, cut and malformed payloads, held or copied, and how much is kept.
#include <gtest/gtest.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <optional>
#include <vector>

#include "divert/linux/nfqueue_admission.hh"
#include "divert/linux/nfqueue_message.hh"
#include "test_packets.hh"

namespace badlink {
namespace {

constexpr uint32_t kLan = 3;
constexpr uint32_t kWan = 4;
constexpr uint32_t kOther = 5;

QueuedPacket caught(uint8_t hook, uint32_t indev, uint32_t outdev,
                    const std::vector<std::byte>& payload = {}) {
  QueuedPacket q;
  q.queue = 7;
  q.id = 1;
  q.hook = hook;
  q.indev = indev;
  q.outdev = outdev;
  q.has_payload = !payload.empty();
  q.payload = payload;
  return q;
}

std::optional<Direction> host(uint8_t hook, uint32_t indev, uint32_t outdev) {
  return packet_direction(caught(hook, indev, outdev), 0);
}

std::optional<Direction> gateway(uint8_t hook, uint32_t indev, uint32_t outdev) {
  return packet_direction(caught(hook, indev, outdev), kWan);
}

TEST(DivertPacketDirection, HostModeEveryHook) {
  EXPECT_EQ(host(NF_INET_LOCAL_OUT, 0, kLan), Direction::outbound);
  EXPECT_EQ(host(NF_INET_POST_ROUTING, 0, kLan), Direction::outbound);
  EXPECT_EQ(host(NF_INET_LOCAL_IN, kLan, 0), Direction::inbound);
  EXPECT_EQ(host(NF_INET_PRE_ROUTING, kLan, 0), Direction::inbound);
  // Forwarded: both in and out of this host; without a WAN no side is outbound.
  EXPECT_EQ(host(NF_INET_FORWARD, kLan, kOther), std::nullopt);
  // Hooks beyond the five (netdev ingress, a future one): nothing to go by.
  EXPECT_EQ(host(NF_INET_NUMHOOKS, kLan, 0), std::nullopt);
  EXPECT_EQ(host(200, 0, kLan), std::nullopt);
}

TEST(DivertPacketDirection, GatewayModeGoesByTheWanSide) {
  EXPECT_EQ(gateway(NF_INET_FORWARD, kLan, kWan), Direction::outbound);  // FORWARD -o wan
  EXPECT_EQ(gateway(NF_INET_FORWARD, kWan, kLan), Direction::inbound);   // FORWARD -i wan
  EXPECT_EQ(gateway(NF_INET_POST_ROUTING, 0, kWan), Direction::outbound);
  EXPECT_EQ(gateway(NF_INET_PRE_ROUTING, kWan, 0), Direction::inbound);
}

TEST(DivertPacketDirection, GatewayModeTellsNothingThatCrossesNoWanSideOrBoth) {
  EXPECT_EQ(gateway(NF_INET_FORWARD, kLan, kOther), std::nullopt);  // LAN to LAN
  EXPECT_EQ(gateway(NF_INET_FORWARD, kWan, kWan), std::nullopt);    // a hairpin
  EXPECT_EQ(gateway(NF_INET_FORWARD, 0, 0), std::nullopt);          // no interfaces at all
  EXPECT_EQ(gateway(NF_INET_PRE_ROUTING, kLan, 0), std::nullopt);   // may be for this host
  EXPECT_EQ(gateway(NF_INET_POST_ROUTING, 0, kLan), std::nullopt);  // may be from this host
}

TEST(DivertPacketDirection, TheHostsOwnTrafficGoesByItsHookInGatewayModeToo) {
  EXPECT_EQ(gateway(NF_INET_LOCAL_OUT, 0, kLan), Direction::outbound);
  EXPECT_EQ(gateway(NF_INET_LOCAL_OUT, 0, kWan), Direction::outbound);
  EXPECT_EQ(gateway(NF_INET_LOCAL_IN, kLan, 0), Direction::inbound);
  EXPECT_EQ(gateway(NF_INET_LOCAL_IN, kWan, 0), Direction::inbound);
}

TEST(DivertPacketDirection, HooksAreNamedAsTheirChains) {
  EXPECT_EQ(hook_name(NF_INET_PRE_ROUTING), "PREROUTING");
  EXPECT_EQ(hook_name(NF_INET_LOCAL_IN), "INPUT");
  EXPECT_EQ(hook_name(NF_INET_FORWARD), "FORWARD");
  EXPECT_EQ(hook_name(NF_INET_LOCAL_OUT), "OUTPUT");
  EXPECT_EQ(hook_name(NF_INET_POST_ROUTING), "POSTROUTING");
  EXPECT_EQ(hook_name(NF_INET_NUMHOOKS), "another hook");
}

TEST(DivertPacketDirection, TheQueueDoesNotDecide) {
  // The user's single rule, INPUT -j NFQUEUE --queue-num 7, with --no-rules --queue 7: queue 7
  // (once read as outbound) carries inbound packets, and OUTPUT's on the same queue outbound.
  const std::vector<std::byte> ip = testing::make_ip_packet(4, 17, 100);
  LinkAdmission link;
  QueuedPacket in = caught(NF_INET_LOCAL_IN, kLan, 0, ip);
  QueuedPacket out = caught(NF_INET_LOCAL_OUT, 0, kLan, ip);
  ASSERT_EQ(in.queue, out.queue);
  EXPECT_EQ(admit(in, &link).direction, Direction::inbound);
  EXPECT_EQ(admit(out, &link).direction, Direction::outbound);
  EXPECT_EQ(divert_address(in, Direction::inbound, "eth0").ifindex, kLan);
  EXPECT_EQ(divert_address(in, Direction::inbound, "eth0").queue, 7);
}

TEST(DivertAdmission, AQueueOfNoLinkIsPassedFirst) {
  const std::vector<std::byte> ip = testing::make_ip_packet(4, 17, 100);
  EXPECT_EQ(admit(caught(NF_INET_LOCAL_IN, kLan, 0, ip), nullptr).outcome,
            AdmissionOutcome::pass_unbound);
  EXPECT_EQ(admit(caught(NF_INET_FORWARD, kLan, kOther), nullptr).outcome,
            AdmissionOutcome::pass_unbound);
}

TEST(DivertAdmission, NoDirectionIsPassedUnclassifiedBeforeAnythingIsRead) {
  const LinkAdmission host_link;
  LinkAdmission gateway_link;
  gateway_link.wan_ifindex = kWan;
  // Even a packet with no payload: what it lacks is a direction first.
  EXPECT_EQ(admit(caught(NF_INET_FORWARD, kLan, kOther), &host_link).outcome,
            AdmissionOutcome::pass_unclassified);
  const std::vector<std::byte> ip = testing::make_ip_packet(4, 6, 100);
  EXPECT_EQ(admit(caught(NF_INET_FORWARD, kLan, kOther, ip), &host_link).outcome,
            AdmissionOutcome::pass_unclassified);
  EXPECT_EQ(admit(caught(NF_INET_FORWARD, kLan, kOther, ip), &gateway_link).outcome,
            AdmissionOutcome::pass_unclassified);
  EXPECT_EQ(admit(caught(NF_INET_FORWARD, kLan, kWan, ip), &gateway_link).outcome,
            AdmissionOutcome::divert);
}

TEST(DivertAdmission, GatewayPacketsAreHeldOnTheirWanSide) {
  LinkAdmission link;
  link.wan_ifindex = kWan;
  const std::vector<std::byte> ip = testing::make_ip_packet(4, 6, 1000);
  const QueuedPacket out = caught(NF_INET_FORWARD, kLan, kWan, ip);
  const Admission a = admit(out, &link);
  EXPECT_EQ(a.outcome, AdmissionOutcome::divert);
  EXPECT_EQ(a.direction, Direction::outbound);
  EXPECT_EQ(a.mode, QueueMode::hold);
  EXPECT_EQ(a.keep, ip.size());
  EXPECT_EQ(packet_ifindex(out, a.direction), kWan);
  const QueuedPacket in = caught(NF_INET_FORWARD, kWan, kLan, ip);
  const Admission b = admit(in, &link);
  EXPECT_EQ(b.direction, Direction::inbound);
  EXPECT_EQ(b.mode, QueueMode::hold);
  EXPECT_EQ(packet_ifindex(in, b.direction), kWan);
}

TEST(DivertAdmission, NoPayloadOrAnEmptyOneIsTruncated) {
  const LinkAdmission link;
  EXPECT_EQ(admit(caught(NF_INET_LOCAL_IN, kLan, 0), &link).outcome,
            AdmissionOutcome::pass_truncated);
  QueuedPacket empty = caught(NF_INET_LOCAL_IN, kLan, 0);
  empty.has_payload = true;  // an NFQA_PAYLOAD of no bytes
  EXPECT_EQ(admit(empty, &link).outcome, AdmissionOutcome::pass_truncated);
}

TEST(DivertAdmission, ACutPacketIsEnoughOnlyWhereHeadersAre) {
  const std::vector<std::byte> whole = testing::make_ip_packet(4, 17, 1400);
  const std::vector<std::byte> cut(whole.begin(), whole.begin() + 512);
  QueuedPacket in = caught(NF_INET_LOCAL_IN, kLan, 0, cut);
  in.cap_len = static_cast<uint32_t>(whole.size());
  ASSERT_TRUE(in.truncated());

  LinkAdmission link;
  EXPECT_EQ(admit(in, &link).outcome, AdmissionOutcome::pass_truncated);  // all is needed

  link[Direction::inbound].headers_only = true;  // held, only delayed: headers are enough
  Admission a = admit(in, &link);
  EXPECT_EQ(a.outcome, AdmissionOutcome::divert);
  EXPECT_EQ(a.mode, QueueMode::hold);
  EXPECT_EQ(a.keep, 20u + 64u);

  link[Direction::inbound] = DirectionAdmission{.passthrough = true, .bypass = true};
  EXPECT_EQ(admit(in, &link).outcome, AdmissionOutcome::pass_through);

  // A local sender's packet is sent again from its bytes: cut, it cannot be.
  QueuedPacket out = caught(NF_INET_LOCAL_OUT, 0, kLan, cut);
  out.cap_len = static_cast<uint32_t>(whole.size());
  link[Direction::outbound].headers_only = true;
  a = admit(out, &link);
  EXPECT_EQ(a.outcome, AdmissionOutcome::pass_truncated);
  EXPECT_EQ(a.mode, QueueMode::copy);
}

TEST(DivertAdmission, HeadersThatLieAreMalformed) {
  std::vector<std::byte> bad = testing::make_ip_packet(4, 17, 100);
  bad[0] = std::byte{0x75};  // version 7
  LinkAdmission link;
  Admission a = admit(caught(NF_INET_LOCAL_IN, kLan, 0, bad), &link);
  EXPECT_EQ(a.outcome, AdmissionOutcome::pass_malformed);
  EXPECT_EQ(a.direction, Direction::inbound);
  EXPECT_EQ(a.headers.error, HeaderError::bad_version);
  // Even where the direction would be passed as read: the malformed count comes first.
  link[Direction::inbound].bypass = true;
  EXPECT_EQ(admit(caught(NF_INET_LOCAL_IN, kLan, 0, bad), &link).outcome,
            AdmissionOutcome::pass_malformed);
  const std::vector<std::byte> tiny(8, std::byte{0x45});
  EXPECT_EQ(admit(caught(NF_INET_LOCAL_IN, kLan, 0, tiny), &link).outcome,
            AdmissionOutcome::pass_malformed);
}

TEST(DivertAdmission, EachDirectionGetsItsOwnWishesOnOneQueue) {
  // Outbound changes nothing (bypass), inbound only delays; both come through queue 7.
  LinkAdmission link;
  link[Direction::outbound] = DirectionAdmission{.passthrough = true, .bypass = true};
  link[Direction::inbound].headers_only = true;
  const std::vector<std::byte> ip = testing::make_ip_packet(6, 17, 600);
  EXPECT_EQ(admit(caught(NF_INET_LOCAL_OUT, 0, kLan, ip), &link).outcome,
            AdmissionOutcome::pass_through);
  const Admission in = admit(caught(NF_INET_LOCAL_IN, kLan, 0, ip), &link);
  EXPECT_EQ(in.outcome, AdmissionOutcome::divert);
  EXPECT_EQ(in.direction, Direction::inbound);
  EXPECT_EQ(in.keep, 40u + 64u);
}

TEST(DivertAdmission, ALocalSendersPacketIsCopiedWhole) {
  LinkAdmission link;
  link[Direction::outbound].headers_only = true;  // not for a copy: it is sent from its bytes
  const std::vector<std::byte> ip = testing::make_ip_packet(4, 6, 1000);
  Admission a = admit(caught(NF_INET_LOCAL_OUT, 0, kLan, ip), &link);
  EXPECT_EQ(a.outcome, AdmissionOutcome::divert);
  EXPECT_EQ(a.direction, Direction::outbound);
  EXPECT_EQ(a.mode, QueueMode::copy);
  EXPECT_EQ(a.keep, ip.size());

  QueuedPacket post = caught(NF_INET_POST_ROUTING, 0, kLan, ip);
  post.has_uid = true;  // a local socket's
  EXPECT_EQ(admit(post, &link).mode, QueueMode::copy);
  post.has_uid = false;  // forwarded: no sender here to stall
  a = admit(post, &link);
  EXPECT_EQ(a.direction, Direction::outbound);
  EXPECT_EQ(a.mode, QueueMode::hold);
  EXPECT_EQ(a.keep, 20u + 64u);
}

TEST(DivertAdmission, APassthroughDirectionHoldsEvenALocalSendersPacket) {
  LinkAdmission link;
  link[Direction::outbound].passthrough = true;
  const std::vector<std::byte> ip = testing::make_ip_packet(4, 17, 100);
  const Admission a = admit(caught(NF_INET_LOCAL_OUT, 0, kLan, ip), &link);
  EXPECT_EQ(a.outcome, AdmissionOutcome::divert);
  EXPECT_EQ(a.mode, QueueMode::hold);
}

TEST(DivertAdmission, FromTheUnspecifiedAddressIsHeld) {
  // IPv6 DAD and MLD while the host's addresses are tentative: the raw socket cannot route it.
  std::vector<std::byte> ip = testing::make_ip_packet(6, 58, 24);
  std::fill(ip.begin() + 8, ip.begin() + 24, std::byte{0});
  const LinkAdmission link;
  const Admission a = admit(caught(NF_INET_LOCAL_OUT, 0, kLan, ip), &link);
  EXPECT_EQ(a.outcome, AdmissionOutcome::divert);
  EXPECT_EQ(a.mode, QueueMode::hold);
}

}  // namespace
}  // namespace badlink
