// Trace readers; see trace.hh.
#include "profile/trace.hh"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

namespace badlink {

namespace {

std::string join(const std::vector<TraceProblem>& problems) {
  std::string out;
  for (const TraceProblem& p : problems) {
    if (!out.empty()) {
      out += '\n';
    }
    out += (p.line > 0 ? "line " + std::to_string(p.line) + ": " : std::string()) + p.message;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Quoted for a message, cut to a readable length.
std::string quoted(std::string_view s) {
  constexpr size_t kShown = 40;
  return "'" + std::string(s.substr(0, kShown)) + (s.size() > kShown ? "...'" : "'");
}

// Calls `each(line_number, line)` for every line of `text` (a final newline ends the last).
template <class Each>
void for_each_line(std::string_view text, Each each) {
  uint32_t number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    ++number;
    if (!each(number, line)) {
      return;
    }
    if (end == std::string_view::npos) {
      return;
    }
    text.remove_prefix(end + 1);
  }
}

class Problems {
 public:
  bool add(uint32_t line, std::string message) {
    if (problems_.size() < kMaxTraceProblems) {
      problems_.push_back({line, std::move(message)});
    }
    return problems_.size() < kMaxTraceProblems;  // false: stop reading
  }
  bool any() const { return !problems_.empty(); }
  [[noreturn]] void raise() { throw TraceError(std::move(problems_)); }

 private:
  std::vector<TraceProblem> problems_;
};

std::optional<int64_t> whole_number(std::string_view s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    return std::nullopt;
  }
  return v;
}

}  // namespace

TraceError::TraceError(std::vector<TraceProblem> problems)
    : std::runtime_error(join(problems)), problems_(std::move(problems)) {}

DeliveryTrace parse_delivery_trace(std::string_view text, std::string source, bool loop) {
  DeliveryTrace trace;
  trace.source = std::move(source);
  trace.loop = loop;
  Problems problems;
  const uint64_t max_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(kMaxTraceTime).count());
  for_each_line(text, [&](uint32_t number, std::string_view raw) {
    const std::string_view line = trim(raw);
    if (line.empty()) {
      return problems.add(number,
                          "an empty line; every line is one delivery time in whole "
                          "milliseconds, e.g. 12");
    }
    const std::optional<int64_t> ms = whole_number(line);
    if (!ms || *ms < 0) {
      return problems.add(number,
                          "expected a delivery time in whole milliseconds (a number "
                          "like 12), got " +
                              quoted(line));
    }
    if (static_cast<uint64_t>(*ms) > max_ms) {
      return problems.add(number, std::to_string(*ms) +
                                      " ms is past a week, the longest a "
                                      "trace may run");
    }
    if (!trace.ms.empty() && static_cast<uint64_t>(*ms) < trace.ms.back()) {
      return problems.add(number, "times must not decrease: " + std::to_string(*ms) +
                                      " ms comes after " + std::to_string(trace.ms.back()) +
                                      " ms on line " + std::to_string(number - 1));
    }
    if (trace.ms.size() >= kMaxTraceLines) {
      return problems.add(number, "more than " + std::to_string(kMaxTraceLines) + " lines");
    }
    trace.ms.push_back(static_cast<uint64_t>(*ms));
    return true;
  });
  if (!problems.any()) {
    if (trace.ms.empty()) {
      problems.add(0, "the trace is empty: it needs at least one delivery time");
    } else if (trace.ms.back() == 0) {
      problems.add(static_cast<uint32_t>(trace.ms.size()),
                   "the trace lasts no time: its last delivery time, its period, must be after "
                   "0 ms");
    }
  }
  if (problems.any()) {
    problems.raise();
  }
  return trace;
}

namespace {

enum class Column : uint8_t { at, delay, jitter, rate, loss, queue };
constexpr std::array<std::string_view, 6> kColumnNames{
    "at_us", "delay_us", "jitter_us", "rate_bps", "loss", "queue_limit_packets"};

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> cells;
  while (true) {
    const size_t comma = line.find(',');
    cells.push_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) {
      return cells;
    }
    line.remove_prefix(comma + 1);
  }
}

std::string column_list() {
  std::string out;
  for (const std::string_view c : kColumnNames) {
    out += (out.empty() ? "" : ",") + std::string(c);
  }
  return out;
}

}  // namespace

ConfigTrace parse_config_trace(std::string_view text, std::string source) {
  ConfigTrace trace;
  trace.source = std::move(source);
  Problems problems;
  std::vector<Column> columns;
  bool header = false;
  bool bad_header = false;
  const int64_t max_us =
      std::chrono::duration_cast<std::chrono::microseconds>(kMaxTraceTime).count();
  const int64_t max_delay_us =
      std::chrono::duration_cast<std::chrono::microseconds>(kMaxDelay).count();
  for_each_line(text, [&](uint32_t number, std::string_view raw) {
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') {
      return true;
    }
    const std::vector<std::string_view> cells = split(line);
    if (!header) {
      header = true;
      for (const std::string_view name : cells) {
        const auto it = std::find(kColumnNames.begin(), kColumnNames.end(), name);
        if (it == kColumnNames.end()) {
          bad_header = true;
          problems.add(number, "unknown column " + quoted(name) + "; the columns are " +
                                   column_list() + " (units in the names)");
          continue;
        }
        const auto c = static_cast<Column>(it - kColumnNames.begin());
        if (std::find(columns.begin(), columns.end(), c) != columns.end()) {
          bad_header = true;
          problems.add(number, "column " + quoted(name) + " twice");
        }
        columns.push_back(c);
        trace.columns.emplace_back(name);
      }
      if (std::find(columns.begin(), columns.end(), Column::at) == columns.end() && !bad_header) {
        bad_header = true;
        problems.add(number,
                     "the header has no at_us column: every row needs its time, e.g. "
                     "at_us,delay_us,rate_bps");
      }
      return !bad_header;
    }
    if (cells.size() != columns.size()) {
      return problems.add(number, std::to_string(cells.size()) + " cells, the header has " +
                                      std::to_string(columns.size()));
    }
    TraceRow row;
    row.line = number;
    bool row_ok = true;
    bool has_at = false;
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string_view cell = cells[i];
      const std::string name(kColumnNames[static_cast<size_t>(columns[i])]);
      if (cell.empty()) {
        if (columns[i] == Column::at) {
          row_ok = problems.add(number, "at_us is empty: every row needs its time") && false;
        }
        continue;  // the link's own value
      }
      const auto bad = [&](const std::string& expected) {
        row_ok = false;
        return problems.add(number, name + ": expected " + expected + ", got " + quoted(cell));
      };
      if (columns[i] == Column::loss) {
        double v = 0.0;
        const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
        if (ec != std::errc() || end != cell.data() + cell.size() || !std::isfinite(v) || v < 0.0 ||
            v > 1.0) {
          if (!bad("a probability 0..1 (0.05 is 5%)")) {
            return false;
          }
          continue;
        }
        row.loss = v;
        continue;
      }
      const std::optional<int64_t> v = whole_number(cell);
      switch (columns[i]) {
        case Column::at:
          if (!v || *v < 0 || *v > max_us) {
            if (!bad("a whole number of microseconds from 0 to a week")) {
              return false;
            }
            continue;
          }
          row.at = std::chrono::microseconds(*v);
          has_at = true;
          break;
        case Column::delay:
        case Column::jitter:
          if (!v || *v < 0 || *v > max_delay_us) {
            if (!bad("a whole number of microseconds from 0 to an hour")) {
              return false;
            }
            continue;
          }
          (columns[i] == Column::delay ? row.delay : row.jitter) =
              std::chrono::duration_cast<Duration>(std::chrono::microseconds(*v));
          break;
        case Column::rate:
          if (!v || (*v < 1 && *v != -1)) {
            if (!bad("bits per second, at least 1, or -1 for no limit (an outage is a "
                     "[[schedule]] step's)")) {
              return false;
            }
            continue;
          }
          row.rate = *v == -1 ? 0 : static_cast<uint64_t>(*v);
          break;
        case Column::queue:
          if (!v || *v < 1 || *v > 10'000'000) {
            if (!bad("a packet count from 1 to 10000000")) {
              return false;
            }
            continue;
          }
          row.queue_limit_packets = static_cast<uint64_t>(*v);
          break;
        case Column::loss:
          break;
      }
    }
    if (!row_ok || !has_at) {
      return true;
    }
    if (!trace.rows.empty() && row.at <= trace.rows.back().at) {
      return problems.add(number, "rows must come in order of time: at_us " +
                                      std::to_string(row.at.count() / 1000) + " is not after " +
                                      std::to_string(trace.rows.back().at.count() / 1000) +
                                      " on line " + std::to_string(trace.rows.back().line));
    }
    if (trace.rows.size() >= kMaxTraceLines) {
      return problems.add(number, "more than " + std::to_string(kMaxTraceLines) + " rows");
    }
    trace.rows.push_back(row);
    return true;
  });
  if (!problems.any()) {
    if (!header) {
      problems.add(0,
                   "the trace is empty: it needs a header (e.g. at_us,delay_us,rate_bps) "
                   "and at least one row");
    } else if (trace.rows.empty()) {
      problems.add(0, "the trace has a header but no row");
    }
  }
  if (problems.any()) {
    problems.raise();
  }
  return trace;
}

DirectionConfig apply_row(const DirectionConfig& base, const TraceRow& row) {
  DirectionConfig c = base;
  if (row.delay) {
    c.delay.delay = *row.delay;
  }
  if (row.jitter) {
    c.delay.jitter = *row.jitter;
  }
  if (row.rate) {
    c.rate.bits_per_second = *row.rate;
    c.rate.trace.reset();
  }
  if (row.loss) {
    if (*row.loss > 0.0) {
      c.loss = BernoulliLoss{*row.loss};
    } else {
      c.loss = std::monostate{};
    }
  }
  if (row.queue_limit_packets) {
    c.queue = QueueLimit{*row.queue_limit_packets, 0};
  }
  return c;
}

}  // namespace badlink
