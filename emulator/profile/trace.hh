// The two trace formats a profile may name, read from text into plain structs; every problem
// carries its line. Reading the file is the profile parser's (paths are relative to the
// profile).
//
// - A packet-delivery trace (Mahimahi's format, `rate = { trace = "FILE" }`): one whole number
//   of milliseconds per line, non-decreasing, each a chance to deliver 1,500 bytes; its last
//   time is its period.
// - A CSV trace (`trace = "FILE.csv"`): a header naming its columns, units in the names, any
//   of `at_us,delay_us,jitter_us,rate_bps,loss,queue_limit_packets` (`at_us` required), then
//   one row per change: each holds from its time to the next row's; an empty cell keeps the
//   link's own value; rate_bps -1 is no limit. Blank lines and lines starting with '#' are
//   skipped.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hh"
#include "impairments/config.hh"
#include "impairments/delivery_trace.hh"

namespace badlink {

struct TraceProblem {
  uint32_t line = 0;  // 1-based; 0: the trace as a whole (it is empty)
  std::string message;
};

// Every problem found, in line order (at most kMaxTraceProblems).
class TraceError : public std::runtime_error {
 public:
  explicit TraceError(std::vector<TraceProblem> problems);
  const std::vector<TraceProblem>& problems() const { return problems_; }

 private:
  std::vector<TraceProblem> problems_;
};
inline constexpr size_t kMaxTraceProblems = 20;

// The longest a trace may run (as a schedule: a week), and how many lines it may have.
inline constexpr Duration kMaxTraceTime = std::chrono::hours(24 * 7);
inline constexpr size_t kMaxTraceLines = 10'000'000;

// Throws TraceError. `source` goes into the result only.
DeliveryTrace parse_delivery_trace(std::string_view text, std::string source, bool loop);

// One row of a CSV trace: what it sets (nullopt: the link's own value).
struct TraceRow {
  Duration at{};
  std::optional<Duration> delay;
  std::optional<Duration> jitter;
  std::optional<uint64_t> rate;  // bits/s; 0: no limit (-1 in the file)
  std::optional<double> loss;    // 0..1
  std::optional<uint64_t> queue_limit_packets;
  uint32_t line = 0;

  friend bool operator==(const TraceRow&, const TraceRow&) = default;
};

struct ConfigTrace {
  std::vector<TraceRow> rows;        // strictly increasing `at`
  std::vector<std::string> columns;  // as the header names them
  std::string source;                // the file as the profile names it

  Duration duration() const { return rows.empty() ? Duration{0} : rows.back().at; }

  friend bool operator==(const ConfigTrace&, const ConfigTrace&) = default;
};

// Throws TraceError.
ConfigTrace parse_config_trace(std::string_view text, std::string source);

// `base` with what `row` sets over it.
DirectionConfig apply_row(const DirectionConfig& base, const TraceRow& row);

}  // namespace badlink
