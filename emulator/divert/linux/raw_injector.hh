// Sending finished IP packets back into the stack through raw sockets (IP_HDRINCL), marked so
// that the diverting rules let them pass: the copy path for packets this host sends, and the
// way a second copy (a duplicate) of any packet goes out.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "core/latency_histogram.hh"
#include "core/time.hh"
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

  // How long a send takes to reach the wire. Every kSampleEvery-th send asks the kernel for a
  // software transmit timestamp (an SO_TIMESTAMPING control message; the driver takes it as
  // the packet leaves -- veth and loopback do, as most NICs): from just before sendmsg() to
  // that stamp. The median of the last kWindow samples; nullopt before kMinSamples, or where
  // the kernel or the device gives no stamps (read at once after the send: a device that
  // stamps later, behind a queue, gives none either).
  std::optional<Duration> send_path() const { return send_path_; }
  // Every sample so far.
  const LatencyHistogram& send_path_samples() const { return samples_; }

  static constexpr uint64_t kSampleEvery = 32;
  static constexpr size_t kWindow = 64;
  static constexpr size_t kMinSamples = 16;

 private:
  void sample(int fd, int64_t before_ns) noexcept;

  std::array<bool, 2> stamps_{};  // v4, v6: the socket takes SO_TIMESTAMPING (set by open)
  FileDescriptor v4_;
  FileDescriptor v6_;
  uint32_t mark_;
  uint64_t sends_ = 0;
  std::array<int64_t, kWindow> window_{};  // the last samples, ns (a ring)
  size_t taken_ = 0;                       // samples ever taken
  std::optional<Duration> send_path_;
  LatencyHistogram samples_;
};

}  // namespace badlink
