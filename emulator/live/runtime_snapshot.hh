// What the live runtime counts, copied at one moment on the loop's thread: a plain value that
// any thread may read, print as JSON or as the periodic log line.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/latency_histogram.hh"
#include "divert/divert.hh"
#include "divert/diversion.hh"
#include "divert/live_driver.hh"
#include "engine/pipeline.hh"

namespace badlink {

struct LinkSnapshot {
  std::string name;
  uint16_t slot = 0;
  std::array<DirectionStats, kDirections> directions{};
  std::optional<size_t> step;  // the schedule's step in force (nullopt: the link's own)
  uint64_t cycle = 0;          // times the schedule has started again
  std::array<Outage, kDirections> outage{Outage::none, Outage::none};
  std::array<size_t, kDirections> queued_packets{};  // in the bottleneck now
  std::array<uint64_t, kDirections> queued_bytes{};
  // Where each direction's traces are: the CSV row in force, and the time within the
  // delivery trace's period (nullopt: no such trace).
  std::array<std::optional<size_t>, kDirections> row{};
  std::array<std::optional<double>, kDirections> trace_position_ms{};
};

struct RuntimeSnapshot {
  std::string profile;
  std::string source;
  uint64_t seed = 0;
  double uptime_s = 0.0;
  std::vector<LinkSnapshot> links;  // the profile's, in its order
  std::optional<int64_t> timeline_started_unix_ns;  // when the schedules started (none: none)
  bool timeline_paused = false;                     // by the control API
  int64_t timeline_elapsed_ns = 0;                  // the timeline's time, paused time left out
  BackendStats backend;
  DiversionReport diversion;
  LatencyHistogram send_path;
  LiveStats loop;
  size_t pool_in_use = 0;
  size_t pool_bytes = 0;
  size_t pool_chunks = 0;

  // Every link's counters of direction `d` together.
  DirectionStats total(Direction d) const;
};

// As --stats-json writes it. `heap` (a counting build's allocation count, with what earlier
// snapshots and their JSON allocated taken off) goes under pool.
// `delay_buckets`: each link's direction also has "delay_buckets", its delay histogram's
// nonempty buckets as [upper edge in ns, count] (for percentiles between two readings).
std::string snapshot_json(const RuntimeSnapshot& s, std::optional<uint64_t> heap_allocations,
                          uint64_t json_allocations, bool delay_buckets = false);

// The periodic one-line summary.
std::string snapshot_line(const RuntimeSnapshot& s);

}  // namespace badlink
