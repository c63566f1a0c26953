// A stream of probes from one network namespace to another, as `badlink verify` sends them
// (what it sends, and what came of it), and several such streams run side by side.
#pragma once

#include <cstdint>
#include <exception>
#include <span>
#include <string>

#include "core/time.hh"
#include "probe/probe_packet.hh"
#include "probe/probe_stats.hh"
#include "probe/udp_probe.hh"
#include "sys/interrupt.hh"

namespace badlink::probe {

// Stream N listens on port kBasePort + N.
inline constexpr uint16_t kBasePort = 47000;

// Where a stream goes: from namespace `from` to `to_address` in namespace `to` (empty: this
// process's namespace).
struct StreamRoute {
  std::string from;
  std::string to;
  std::string to_address;
};

// How much it sends: `count` probes of `payload` bytes at `pps`; the receiver waits `drain`
// after the last one is sent.
struct StreamLoad {
  uint64_t count = 0;
  double pps = 0.0;
  uint32_t payload = 32;
  Duration drain{0};
};

struct StreamPlan {
  std::string from;  // namespaces
  std::string to;
  Endpoint destination;
  SendPlan send;
  ReceivePlan receive;
  Duration drain{0};  // how long the receiver waits after the last packet is sent
  uint32_t ip_overhead = kUdpIpv4Overhead;
};

// Stream `id` over `route` with `load`: to port kBasePort + id, stamped by the receiver's
// kernel (the receiver is not on the host badlink runs on), and given up 30 s after the last
// probe should have been sent and drained.
StreamPlan plan_stream(const StreamRoute& route, uint16_t id, const StreamLoad& load);

// One stream: its plan and, once run, what its sender and receiver reported.
struct ProbeStream {
  StreamPlan plan;
  ProbeControl control;
  SendReport sent;
  ReceiveReport received;
  std::exception_ptr send_failure;  // one each: the two threads may fail at once
  std::exception_ptr receive_failure;

  ProbeSummary summary() const { return summarize(received, plan.send.count, plan.ip_overhead); }
};

// Runs the streams side by side, the sender and the receiver of each on threads of their own;
// every thread is joined before this returns or throws. Throws Interrupted (the streams
// aborted) when `interrupt` fires, else the first failure of a sender or receiver.
void run_streams(std::span<ProbeStream* const> streams, Interrupt& interrupt);

}  // namespace badlink::probe
