// What a probe's arrival records say: one-way delays, loss, duplicates, damage, reordering both
// ways round, and the throughput at the receiver.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "probe/udp_probe.hh"

namespace badlink::probe {

// Of the first intact copy of each packet, in milliseconds.
struct DelaySummary {
  size_t n = 0;
  double min = 0, p25 = 0, p50 = 0, p75 = 0, p99 = 0, max = 0;
  double mean = 0, stddev = 0;  // stddev with n - 1
};

struct ProbeSummary {
  uint64_t expected = 0;
  uint64_t received = 0;    // datagrams of the stream: copies and damaged ones included
  uint64_t unique = 0;      // packets that arrived intact at least once
  uint64_t lost = 0;        // expected - unique
  uint64_t duplicates = 0;  // intact copies beyond the first
  uint64_t damaged = 0;     // arrived with a flipped bit
  // RFC 4737's reordered packets: arrived after one with a higher sequence number.
  uint64_t late = 0;
  // Packets that overtook: arrived before one with a lower sequence number that came later
  // (netem's "reorder" counts these: each one skipped the delay and jumped the queue).
  uint64_t early = 0;
  DelaySummary delay;
  std::vector<double> delays_ms;  // of each packet's first intact copy, in sequence order
  std::vector<double> delay_by_seq_ms;  // the same, indexed by sequence number; NaN: none intact
  // IP bits/s at the receiver: the bytes of every datagram after the first, over the time from
  // the first arrival to the last. 0 with fewer than two arrivals.
  double throughput_bps = 0.0;
  double throughput_window_s = 0.0;  // first arrival to last
};

// `ip_overhead`: IP and UDP header bytes per datagram (kUdpIpv4Overhead, kUdpIpv6Overhead).
ProbeSummary summarize(const ReceiveReport& report, uint64_t expected, uint32_t ip_overhead);

// The q-quantile (0..1) of sorted values, linearly interpolated; 0 for none.
double quantile(std::span<const double> sorted, double q);

DelaySummary describe_delays(std::vector<double> values_ms);

}  // namespace badlink::probe
