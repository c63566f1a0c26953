// The measuring stick: a UDP sender of N numbered, timestamped packets at R packets/s, and a
// receiver that records when each arrived. What the records mean (delay, loss, duplicates,
// reordering, throughput) is worked out by probe_stats.hh.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/time.hh"
#include "sys/file_descriptor.hh"

namespace badlink::probe {

// A numeric IPv4 or IPv6 address and a port.
struct Endpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string text;  // "192.0.2.1:5000", "[2001:db8::1]:5000"

  int family() const { return address.ss_family; }
};

// Throws std::invalid_argument for anything but a numeric address.
Endpoint make_endpoint(const std::string& host, uint16_t port);

// Shared between a probe's threads and whoever runs them.
struct ProbeControl {
  std::atomic<bool> abort{false};  // stop now (a signal arrived)
  // The receiver stops at this CLOCK_MONOTONIC time (ns); the sender's owner sets it once the
  // last packet is out, to that time plus the longest delay expected.
  std::atomic<int64_t> receive_until_ns{std::numeric_limits<int64_t>::max()};
};

struct SendPlan {
  uint64_t count = 0;
  double rate_pps = 0.0;
  size_t payload_bytes = 64;  // UDP payload, header included
  uint16_t stream = 0;
};

struct SendReport {
  uint64_t sent = 0;
  uint64_t send_errors = 0;
  double elapsed_s = 0.0;     // first to last send
  double achieved_pps = 0.0;  // (sent - 1) / elapsed
  int64_t last_send_ns = 0;   // CLOCK_MONOTONIC
};

// A UDP socket in namespace `netns` (empty: this one), connected to `to`.
FileDescriptor open_sender(const std::string& netns, const Endpoint& to);

// Sends plan.count packets, paced on an absolute schedule (a late packet does not shift the
// ones after it); sleeps, never spins: the probe shares the CPUs with what it measures.
SendReport send_probes(int fd, const SendPlan& plan, const ProbeControl& control);

enum class Stamp : uint8_t {
  kernel,  // SO_TIMESTAMPNS: taken before netfilter's INPUT hook
  user,    // when recvmsg() returns: sees a delay applied on this host's INPUT
};

struct ReceivePlan {
  uint64_t count = 0;  // packets expected; the receiver stops once it holds each of them
  uint16_t stream = 0;
  Stamp stamp = Stamp::kernel;
  Duration idle = std::chrono::seconds(0);        // stop this long after the last packet (0: never)
  Duration max_time = std::chrono::seconds(600);  // stop this long after starting
};

struct Arrival {
  uint64_t seq = 0;
  int64_t sent_ns = 0;      // CLOCK_REALTIME, from the packet
  int64_t received_ns = 0;  // CLOCK_REALTIME
  uint32_t bytes = 0;       // UDP payload
  bool damaged = false;     // ours, but altered on the way (seq and sent_ns not to be trusted)
};

struct ReceiveReport {
  std::vector<Arrival> arrivals;  // in arrival order
  uint64_t foreign = 0;           // datagrams that are not this stream's
  uint64_t foreign_bytes = 0;
};

// A UDP socket in namespace `netns` bound to `at`, stamping arrivals, with a large buffer.
FileDescriptor open_receiver(const std::string& netns, const Endpoint& at);

// Receives until every packet of the plan is in, or the plan's idle or max time, or
// control.receive_until_ns, or control.abort.
ReceiveReport receive_probes(int fd, const ReceivePlan& plan, const ProbeControl& control);

// CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds.
int64_t monotonic_ns();
int64_t realtime_ns();

}  // namespace badlink::probe
