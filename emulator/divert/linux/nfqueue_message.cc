// Decoding NFQUEUE messages with libmnl's attribute parser (as libnetfilter_queue's
// nfq_nlmsg_parse does), without trusting any length.
#include "divert/linux/nfqueue_message.hh"

#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace badlink {

namespace {

using Attributes = std::array<const nlattr*, NFQA_MAX + 1>;

int collect_attribute(const nlattr* attr, void* data) {
  auto& attrs = *static_cast<Attributes*>(data);
  const int type = mnl_attr_get_type(attr);
  if (type < 0 || type > NFQA_MAX) {
    return MNL_CB_OK;  // newer kernel, newer attribute: not ours to understand
  }
  // Check the fixed-size attributes here so that reading them later is safe.
  switch (type) {
    case NFQA_MARK:
    case NFQA_IFINDEX_INDEV:
    case NFQA_IFINDEX_OUTDEV:
    case NFQA_CAP_LEN:
    case NFQA_SKB_INFO:
    case NFQA_UID:
      if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) {
        return MNL_CB_OK;
      }
      break;
    case NFQA_TIMESTAMP:
      if (mnl_attr_validate2(attr, MNL_TYPE_UNSPEC, sizeof(nfqnl_msg_packet_timestamp)) < 0) {
        return MNL_CB_OK;
      }
      break;
    case NFQA_PACKET_HDR:
      if (mnl_attr_validate2(attr, MNL_TYPE_UNSPEC, sizeof(nfqnl_msg_packet_hdr)) < 0) {
        return MNL_CB_OK;
      }
      break;
    default:
      break;
  }
  attrs[static_cast<size_t>(type)] = attr;
  return MNL_CB_OK;
}

uint32_t u32_of(const nlattr* attr) { return attr == nullptr ? 0 : ntohl(mnl_attr_get_u32(attr)); }

}  // namespace

bool netlink_message_fits(const nlmsghdr* message, int remaining) {
  return mnl_nlmsg_ok(message, remaining) && message->nlmsg_len <= static_cast<uint32_t>(remaining);
}

std::optional<QueuedPacket> decode_packet_message(const nlmsghdr* message) {
  if (message == nullptr || message->nlmsg_len < NLMSG_HDRLEN + sizeof(nfgenmsg) ||
      message->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) {
    return std::nullopt;
  }
  Attributes attrs{};
  if (mnl_attr_parse(message, sizeof(nfgenmsg), collect_attribute, &attrs) < 0) {
    // An attribute runs past the message: take what was collected before it, if anything.
  }
  const nlattr* header_attr = attrs[NFQA_PACKET_HDR];
  if (header_attr == nullptr) {
    return std::nullopt;
  }
  nfqnl_msg_packet_hdr header{};
  std::memcpy(&header, mnl_attr_get_payload(header_attr), sizeof header);
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(message));

  QueuedPacket p;
  p.queue = ntohs(nfg->res_id);
  p.id = ntohl(header.packet_id);
  p.hw_protocol = ntohs(header.hw_protocol);
  p.hook = header.hook;
  p.mark = u32_of(attrs[NFQA_MARK]);
  p.indev = u32_of(attrs[NFQA_IFINDEX_INDEV]);
  p.outdev = u32_of(attrs[NFQA_IFINDEX_OUTDEV]);
  p.skb_info = u32_of(attrs[NFQA_SKB_INFO]);
  p.cap_len = u32_of(attrs[NFQA_CAP_LEN]);
  p.has_uid = attrs[NFQA_UID] != nullptr;
  if (const nlattr* stamp = attrs[NFQA_TIMESTAMP]; stamp != nullptr) {
    nfqnl_msg_packet_timestamp ts{};
    std::memcpy(&ts, mnl_attr_get_payload(stamp), sizeof ts);
    const auto sec = static_cast<int64_t>(be64toh(ts.sec));
    const auto usec = static_cast<int64_t>(be64toh(ts.usec));
    if (sec > 0 && sec < (int64_t{1} << 33) && usec >= 0 && usec < 1'000'000) {
      p.timestamp_ns = sec * 1'000'000'000 + usec * 1'000;
    }
  }
  if (const nlattr* payload = attrs[NFQA_PAYLOAD]; payload != nullptr) {
    p.has_payload = true;
    p.payload = {static_cast<const std::byte*>(mnl_attr_get_payload(payload)),
                 mnl_attr_get_payload_len(payload)};
  }
  return p;
}

QueueMode queue_mode_for(uint8_t hook, bool local_socket, bool any_source) {
  const bool local = hook == NF_INET_LOCAL_OUT || (hook == NF_INET_POST_ROUTING && local_socket);
  return local && !any_source ? QueueMode::copy : QueueMode::hold;
}

std::optional<Direction> packet_direction(const QueuedPacket& packet, uint32_t wan_ifindex) {
  switch (packet.hook) {
    case NF_INET_LOCAL_OUT:
      return Direction::outbound;
    case NF_INET_LOCAL_IN:
      return Direction::inbound;
    case NF_INET_PRE_ROUTING:
    case NF_INET_FORWARD:
    case NF_INET_POST_ROUTING:
      break;
    default:
      return std::nullopt;
  }
  if (wan_ifindex == 0) {
    // Host mode: what leaves the stack (POST_ROUTING) or enters it (PRE_ROUTING); a forwarded
    // packet is both, and only a WAN says which side is out.
    if (packet.hook == NF_INET_POST_ROUTING) {
      return Direction::outbound;
    }
    if (packet.hook == NF_INET_PRE_ROUTING) {
      return Direction::inbound;
    }
    return std::nullopt;
  }
  const bool leaves = packet.outdev == wan_ifindex;
  const bool arrives = packet.indev == wan_ifindex;
  if (leaves == arrives) {
    return std::nullopt;  // crosses no side of the WAN (LAN to LAN), or both (a hairpin)
  }
  return leaves ? Direction::outbound : Direction::inbound;
}

std::string_view hook_name(uint8_t hook) {
  switch (hook) {
    case NF_INET_PRE_ROUTING:
      return "PREROUTING";
    case NF_INET_LOCAL_IN:
      return "INPUT";
    case NF_INET_FORWARD:
      return "FORWARD";
    case NF_INET_LOCAL_OUT:
      return "OUTPUT";
    case NF_INET_POST_ROUTING:
      return "POSTROUTING";
    default:
      return "another hook";
  }
}

DivertAddress divert_address(const QueuedPacket& packet, Direction direction,
                             std::string_view ifname) {
  DivertAddress a;
  a.direction = direction;
  a.checksum_partial = (packet.skb_info & NFQA_SKB_CSUMNOTREADY) != 0;
  a.gso_size = 0;  // set by the backend for a GSO super-packet (NFQA_SKB_GSO)
  a.queue = packet.queue;
  a.ifindex = packet_ifindex(packet, direction);
  a.handle = packet.id;
  const size_t n = std::min(ifname.size(), a.ifname.size() - 1);
  std::copy_n(ifname.begin(), n, a.ifname.begin());
  a.ifname[n] = '\0';
  return a;
}

}  // namespace badlink
