// The divert interface: packets taken out of the network stack with their divert address, and
// handed back with it, as recvfrom()/sendto() do on a divert(4) socket. The live loop and the
// engine see only this; NFQUEUE is one implementation, FreeBSD divert(4) could be another.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/packet.hh"
#include "core/packet_pool.hh"

namespace badlink {

// What a backend counts. Every packet received ends in exactly one of: returned by receive()
// (and later reinjected or consumed), or passed on at once for one of the reasons below.
struct BackendStats {
  uint64_t received = 0;             // packets the kernel handed over
  uint64_t diverted = 0;             // of which returned by receive() to be impaired
  uint64_t passed_malformed = 0;     // IP headers that lie: passed on unchanged at once
  uint64_t passed_truncated = 0;     // the kernel gave fewer bytes than the packet has
  uint64_t passed_no_buffer = 0;     // no packet buffer (pool limit): passed on unimpaired
  uint64_t passed_busy = 0;          // too many packets held at once: passed on unimpaired
  uint64_t passed_through = 0;       // its direction's profile changes nothing: accepted as read
  uint64_t passed_unclassified = 0;  // hook and interfaces tell no direction: passed unimpaired
  uint64_t reinjected = 0;           // handed back after impairment (verdict or resend)
  uint64_t resent = 0;               // of which sent again through the raw socket
  uint64_t consumed = 0;             // dropped because the engine dropped every copy
  uint64_t resend_failed = 0;        // the raw socket refused a packet (counted, not retried)
  uint64_t verdict_failed = 0;       // the kernel rejected a verdict
  uint64_t receive_overruns = 0;     // ENOBUFS: the kernel could not deliver (fail-open passes)
  uint64_t receive_errors = 0;       // other receive failures and undecodable messages
  uint64_t held = 0;                 // packets whose verdict is still outstanding, now
  uint64_t kernel_stamped = 0;       // of `diverted`, arrival stamped by the kernel
  uint64_t gso_super_packets = 0;    // of `diverted`, GSO super-packets (many wire packets each)
  uint64_t segments_resent = 0;      // wire packets cut from super-packets at resend
};

class DivertBackend {
 public:
  virtual ~DivertBackend() = default;

  // Takes up to out.size() waiting packets without blocking, each in a buffer from `pool` with
  // bytes, length and address set, and arrival set to when the kernel took the packet where
  // the backend knows it (CLOCK_MONOTONIC, never later than now), else to TimePoint{}: the
  // caller stamps it. Returns how many. Never throws.
  virtual size_t receive(std::span<Packet*> out, PacketPool& pool) = 0;

  // Hands the packet back to the network where its address says it came from, with its
  // current bytes (so corruption travels). A second copy of one packet (a duplicate) is sent
  // as a packet of its own. The caller keeps the buffer.
  virtual void reinject(Packet& packet) = 0;

  // The packet goes on unmodified, at once (the caller keeps the buffer).
  virtual void pass(Packet& packet) = 0;

  // The engine dropped every copy of the packet with this address: it must not go on.
  virtual void consume(const DivertAddress& address) = 0;

  // Sends whatever the backend batched (verdicts); called once per loop iteration.
  virtual void flush() = 0;

  // Packets the kernel has handed over so far (BackendStats::received, without building the
  // whole struct): the live loop reads it to see progress where receive() returned nothing
  // because every packet was passed on inside the backend.
  virtual uint64_t received() const = 0;

  // Readable when receive() has packets of direction `d` (both directions may share one
  // descriptor; -1: the backend takes none of that direction).
  virtual int fd(Direction d) const = 0;

  virtual BackendStats stats() const = 0;

  // Packets the backend holds for receive() that no descriptor shows (read while it waited
  // for something else): the loop reads again at once while this is true.
  virtual bool buffered() const { return false; }

  // How long before a packet's departure the backend wants it, so that it reaches the wire
  // at that time: its own send path where it measures one (a raw socket's), else 0.
  virtual Duration send_lead(Direction /*d*/) const { return Duration{0}; }
};

}  // namespace badlink
