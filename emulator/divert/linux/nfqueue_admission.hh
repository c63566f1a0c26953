// The admission decision for one queued packet as a pure function: diverted to the engine
// (which way, held or copied, how many of its bytes) or passed on at once, and why. The backend
// applies it; nothing here touches a socket or the pool, so it is tested without root.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/ip_headers.hh"
#include "core/packet.hh"
#include "divert/linux/nfqueue_message.hh"

namespace badlink {

// What one direction of a link wants from its packets (NfqueueBackend's setters say why).
struct DirectionAdmission {
  bool passthrough = false;   // changes nothing: a local sender's packet is held, not copied
  bool headers_only = false;  // only delays: of a held packet, the headers are enough
  bool bypass = false;        // changes nothing and nobody watches: accepted as read
};

// What the queues of one link admit: which way its packets travel (the gateway's WAN side) and
// what each direction wants.
struct LinkAdmission {
  uint32_t wan_ifindex = 0;  // gateway mode: --wan's interface index; 0: host mode
  std::array<DirectionAdmission, kDirections> directions{};

  DirectionAdmission& operator[](Direction d) { return directions[index_of(d)]; }
  const DirectionAdmission& operator[](Direction d) const { return directions[index_of(d)]; }
};

enum class AdmissionOutcome : uint8_t {
  divert,             // to the engine, held by the kernel or copied (Admission::mode)
  pass_unbound,       // its queue is bound to no link
  pass_unclassified,  // neither the hook nor the interfaces say which way it travels
  pass_truncated,     // no payload, or fewer bytes than the packet has where all are needed
  pass_malformed,     // IP headers that lie
  pass_through,       // its direction changes nothing and nobody watches: accepted as read
};

struct Admission {
  AdmissionOutcome outcome = AdmissionOutcome::pass_unbound;
  Direction direction = Direction::outbound;  // set from pass_truncated on
  QueueMode mode = QueueMode::hold;           // copy: a local sender's, sent again later
  size_t keep = 0;                            // bytes of the payload to keep (divert)
  IpHeaders headers{};                        // the payload's, from pass_malformed on
};

// The decision, in this order: a queue bound to no link (`link` nullptr) -> pass_unbound; no
// direction (packet_direction) -> pass_unclassified; no payload, or one cut to its headers
// where more is needed -> pass_truncated; headers that lie -> pass_malformed; a bypassed
// direction -> pass_through; a local sender's packet (queue_mode_for) cut -> pass_truncated;
// else divert, keeping all of it, or only the headers and 64 bytes of transport header of a
// packet the kernel holds for a headers-only direction.
Admission admit(const QueuedPacket& packet, const LinkAdmission* link);

}  // namespace badlink
