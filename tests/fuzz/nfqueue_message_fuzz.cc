// Fuzz target: bytes as a netlink receive buffer, walked as NfqueueBackend walks it
// (mnl_nlmsg_ok / mnl_nlmsg_next), each message through decode_packet_message(), the direction
// and divert address it maps to, the admission decision, and the IP header parse of its payload.
// Lengths are never to be trusted: a decoded payload must lie inside its message.
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/ip_headers.hh"
#include "divert/linux/nfqueue_admission.hh"
#include "divert/linux/nfqueue_message.hh"
#include "fuzz_check.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace badlink;
  if (size < 1 + sizeof(nlmsghdr)) {
    return 0;  // no room for a message
  }
  // The first byte picks the WAN, what the directions want and the interface name's length, as
  // a backend configuration would; the rest is what recv() filled in, 4-byte aligned as the
  // kernel's is.
  const uint8_t knobs = data[0];
  std::vector<uint32_t> storage((size - 1 + 3) / 4);
  std::memcpy(storage.data(), data + 1, size - 1);
  const auto* first = reinterpret_cast<const std::byte*>(storage.data());
  const std::byte* end = first + (size - 1);

  LinkAdmission link;
  link.wan_ifindex = (knobs & 1) != 0 ? 2 : 0;
  link[Direction::outbound].headers_only = (knobs & 2) != 0;
  link[Direction::inbound].bypass = (knobs & 4) != 0;
  const std::string_view ifname = std::string_view("eth-fuzz-interface-name").substr(0, knobs >> 3);

  auto* nlh = reinterpret_cast<const nlmsghdr*>(first);
  int remaining = static_cast<int>(size - 1);
  for (; netlink_message_fits(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
    const std::optional<QueuedPacket> packet = decode_packet_message(nlh);
    if (!packet) {
      continue;
    }
    const auto* message = reinterpret_cast<const std::byte*>(nlh);
    fuzz::check(message + nlh->nlmsg_len <= end, "a message lies inside the buffer");
    if (packet->has_payload) {
      // libmnl walks attributes up to NLMSG_ALIGN(nlmsg_len): in a message whose length is
      // not a multiple of 4 (the kernel's always are) the payload may take up to 3 bytes of
      // padding past it, which `storage` holds.
      fuzz::check(
          packet->payload.data() >= message && packet->payload.data() + packet->payload.size() <=
                                                   message + NLMSG_ALIGN(nlh->nlmsg_len),
          "the payload lies inside its message");
    }
    fuzz::check(packet->timestamp_ns >= 0, "a kernel stamp is after the epoch or absent");
    const std::optional<Direction> direction = packet_direction(*packet, link.wan_ifindex);
    const Admission admission = admit(*packet, &link);
    fuzz::check(direction.has_value() || admission.outcome == AdmissionOutcome::pass_unclassified,
                "a packet of no direction is passed as such");
    if (admission.outcome == AdmissionOutcome::divert) {
      fuzz::check(admission.direction == *direction, "the admission keeps the packet's direction");
      fuzz::check(admission.keep > 0 && admission.keep <= packet->payload.size(),
                  "what is kept lies inside the payload");
    }
    const DivertAddress address =
        divert_address(*packet, direction.value_or(Direction::outbound), ifname);
    fuzz::check(std::memchr(address.ifname.data(), 0, address.ifname.size()) != nullptr,
                "the interface name is terminated");
    const IpHeaders h = parse_ip(packet->payload);
    const QueueMode mode =
        queue_mode_for(packet->hook, packet->has_uid,
                       std::all_of(h.src.begin(), h.src.end(), [](uint8_t b) { return b == 0; }));
    fuzz::check(mode == QueueMode::hold || packet->hook == NF_INET_LOCAL_OUT ||
                    packet->hook == NF_INET_POST_ROUTING,
                "only locally sent packets are copied");
  }
  return 0;
}
