// Prometheus' text exposition format 0.0.4 of a RuntimeSnapshot: what GET /metrics serves.
#pragma once

#include <string>
#include <string_view>

#include "live/runtime_snapshot.hh"

namespace badlink::api {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Every family with HELP and TYPE lines; per link and direction where the snapshot has them.
// badlink_queue_packets counts what is in badlink now (received and duplicated, less sent and
// dropped): the bottleneck's queue and the packets waiting out their delay.
std::string prometheus_text(const RuntimeSnapshot& snapshot, std::string_view version);

// A label value escaped as the format asks (backslash, double quote, newline).
std::string label_value(std::string_view text);

}  // namespace badlink::api
