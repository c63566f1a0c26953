// Sending finished IP packets back into the stack through raw sockets (IP_HDRINCL), marked so
// that the diverting rules let them pass: the copy path for packets this host sends, and the
// way a second copy (a duplicate) of any packet goes out.
#pragma once

#include <cstdint>
#include <span>

#include "sys/file_descriptor.hh"

namespace badlink {

class RawInjector {
 public:
  // Opens an IPv4 and an IPv6 raw socket with SO_MARK = `mark` (needs CAP_NET_RAW and
  // CAP_NET_ADMIN). A host without IPv6 gets no IPv6 socket and fails IPv6 sends.
  explicit RawInjector(uint32_t mark);

  // Sends the IP packet in `ip` (its version picks the socket) to its destination address.
  // `ifindex` > 0 pins the outgoing interface, as the original packet's was. Returns 0, or the
  // errno of the failure; never blocks, never throws.
  int send(std::span<const std::byte> ip, uint32_t ifindex) noexcept;

  uint32_t mark() const { return mark_; }

 private:
  FileDescriptor v4_;
  FileDescriptor v6_;
  uint32_t mark_;
};

}  // namespace badlink
