// admit(): the tree NfqueueBackend::handle_message() applies to every packet it reads.
#include "divert/linux/nfqueue_admission.hh"

#include <algorithm>

namespace badlink {

Admission admit(const QueuedPacket& packet, const LinkAdmission* link) {
  Admission a;
  if (link == nullptr) {
    return a;
  }
  const std::optional<Direction> direction = packet_direction(packet, link->wan_ifindex);
  if (!direction) {
    a.outcome = AdmissionOutcome::pass_unclassified;
    return a;
  }
  a.direction = *direction;
  const DirectionAdmission& wants = (*link)[*direction];
  // A packet cut to its headers is enough where nothing is sent from its bytes.
  const bool headers_enough = wants.headers_only || wants.bypass;
  if (!packet.has_payload || packet.payload.empty() || (packet.truncated() && !headers_enough)) {
    a.outcome = AdmissionOutcome::pass_truncated;
    return a;
  }
  a.headers = parse_ip(packet.payload);
  if (!a.headers.ok()) {
    a.outcome = AdmissionOutcome::pass_malformed;
    return a;
  }
  if (wants.bypass) {
    a.outcome = AdmissionOutcome::pass_through;
    return a;
  }
  const bool any_source =
      std::all_of(a.headers.src.begin(), a.headers.src.end(), [](uint8_t b) { return b == 0; });
  a.mode =
      wants.passthrough ? QueueMode::hold : queue_mode_for(packet.hook, packet.has_uid, any_source);
  if (a.mode == QueueMode::copy && packet.truncated()) {  // to be sent from its bytes, cut
    a.outcome = AdmissionOutcome::pass_truncated;
    return a;
  }
  // The headers (and enough of the transport header for any TCP options) when that is all the
  // engine will look at: the kernel keeps the packet itself.
  a.keep = a.mode == QueueMode::hold && wants.headers_only
               ? std::min<size_t>(packet.payload.size(), a.headers.l4_offset + 64U)
               : packet.payload.size();
  a.outcome = AdmissionOutcome::divert;
  return a;
}

}  // namespace badlink
