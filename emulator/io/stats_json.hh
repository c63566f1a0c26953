// A replay's report as JSON, for scripts and CI jobs to read instead of scraping log lines.
#pragma once

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "io/replay.hh"

namespace badlink {

// One JSON object:
//   profile, seed, input, output, direction, link_type, input_packets, output_packets, non_ip,
//   pool_exhausted, time_went_back, truncated_input, input_error, unmatched,
//   links: { NAME: { outbound / inbound: { received, sent, dropped_loss, dropped_queue,
//     dropped_memory, duplicated, reordered, corrupted, malformed, bytes_received, bytes_sent,
//     delay_us: { p50, p90, p99, max, mean } } }, one per link in the profile's order }
// Delays are in microseconds (json_micros: up to 3 decimals); counts are integers.
std::string stats_json(const ReplayReport& report);

// Delay percentiles { p50, p90, p99, max, mean } in microseconds.
nlohmann::ordered_json latency_json(const LatencyHistogram& histogram);

// One direction's counters and delay_us object, as both the replay and the live JSON print them.
nlohmann::ordered_json direction_stats_json(const DirectionStats& stats);

// Writes stats_json() to `file` (through a temporary file and a rename); throws
// std::system_error when it cannot.
void write_stats_json(const std::filesystem::path& file, const ReplayReport& report);

}  // namespace badlink
