// NFQUEUE packet messages decoded into plain data, and mapped onto a divert address. No
// sockets here, so that the mapping is testable without root.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/packet.hh"

struct nlmsghdr;

namespace badlink {

// How a diverted packet is handed back, decided by where netfilter caught it.
enum class QueueMode : uint8_t {
  // The kernel keeps the packet until the verdict (NF_ACCEPT at departure, NF_DROP if lost).
  // For inbound and forwarded packets, which have no local sender to stall.
  hold,
  // The packet is copied and dropped (NF_DROP) at once and the copy sent later through a raw
  // socket. For packets a local socket sends: a held verdict keeps the sender's socket charged
  // for every packet in flight and throttles it.
  copy,
};

// copy for packets a local socket sent: caught at NF_INET_LOCAL_OUT, or at
// NF_INET_POST_ROUTING with a socket owner (`local_socket`: the kernel reported its uid);
// hold for everything else, and for a packet from the unspecified address (`any_source`: ::
// or 0.0.0.0 — the kernel's IPv6 duplicate address detection and MLD reports while the host's
// addresses are still tentative): the raw socket cannot route it then (EADDRNOTAVAIL: no
// usable source), and no sending application waits on it.
QueueMode queue_mode_for(uint8_t hook, bool local_socket, bool any_source = false);

// One NFQNL_MSG_PACKET, fields in host byte order.
struct QueuedPacket {
  uint16_t queue = 0;
  uint32_t id = 0;
  uint16_t hw_protocol = 0;  // ETH_P_IP, ETH_P_IPV6
  uint8_t hook = 0;          // NF_INET_LOCAL_OUT, ...
  uint32_t mark = 0;
  uint32_t indev = 0;  // 0 when absent
  uint32_t outdev = 0;
  uint32_t skb_info = 0;  // NFQA_SKB_* flags
  uint32_t cap_len = 0;   // the packet's full length when the payload was cut; else 0
  bool has_uid = false;   // a local socket owns the packet (NFQA_CFG_F_UID_GID requested)
  bool has_payload = false;
  std::span<const std::byte> payload;
  // NFQA_TIMESTAMP: when the packet arrived (skb->tstamp) or, with no stamp on the skb and
  // timestamping enabled on the host, when the kernel queued it. CLOCK_REALTIME in
  // nanoseconds (microsecond resolution); 0 when absent.
  int64_t timestamp_ns = 0;

  // The kernel gave fewer bytes than the packet has.
  bool truncated() const { return cap_len > payload.size(); }
};

// Whether a netlink message lies whole in the `remaining` bytes of a receive buffer: use it
// where mnl_nlmsg_ok() would be. That one compares the length as an int, so a length of 2^31
// or more passes it (0xffffffff aligns to a step of 0: a walk that never ends; others step
// past the buffer). Found by the nfqueue_message fuzz target.
bool netlink_message_fits(const nlmsghdr* message, int remaining);

// Decodes one netlink message of type NFQNL_MSG_PACKET; nullopt when it is another type, or
// when it is too damaged to carry a packet id.
std::optional<QueuedPacket> decode_packet_message(const nlmsghdr* message);

// Which way the packet travels, from where netfilter caught it, as divert(4) reports it (never
// from the queue: one queue may carry both directions):
//   LOCAL_OUT -> outbound, LOCAL_IN -> inbound: this host's own traffic, in every mode;
//   host mode (`wan_ifindex` 0): POST_ROUTING -> outbound, PRE_ROUTING -> inbound;
//   gateway mode (`wan_ifindex`: --wan's index), at PRE_ROUTING, FORWARD and POST_ROUTING:
//     leaving through the WAN (outdev) -> outbound, arriving from it (indev) -> inbound.
// nullopt, to be passed unimpaired and counted, for what neither says: FORWARD without a WAN,
// a forwarded packet that crosses no side of it or both (a hairpin), another hook.
std::optional<Direction> packet_direction(const QueuedPacket& packet, uint32_t wan_ifindex);

// The iptables chain of a netfilter hook ("PREROUTING", ...; "another hook" beyond the five).
std::string_view hook_name(uint8_t hook);

// The address a divert socket would report for this packet travelling `direction`: the
// receiving interface for inbound packets and the sending one for outbound packets, the queue
// as the divert port, the packet id as the backend's handle.
DivertAddress divert_address(const QueuedPacket& packet, Direction direction,
                             std::string_view ifname);

// The interface on the packet's side of the host: where it arrived (inbound), where it leaves.
constexpr uint32_t packet_ifindex(const QueuedPacket& packet, Direction direction) {
  return direction == Direction::inbound ? packet.indev : packet.outdev;
}

// Key for one queued packet across queues: queue number and packet id.
constexpr uint64_t handle_key(uint16_t queue, uint64_t id) {
  return (uint64_t{queue} << 32) | (id & 0xffffffffU);
}

}  // namespace badlink
