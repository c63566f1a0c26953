// Prometheus text from a RuntimeSnapshot; see metrics.hh.
#include "api/metrics.hh"

#include <fmt/format.h>

#include <array>

namespace badlink::api {

namespace {

// The delay histogram's bounds, in seconds: 100 us to 10 s.
constexpr std::array kDelayBounds{0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                  0.1,    0.2,    0.5,   1.0,   2.0,   5.0,  10.0};

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

std::string labels(const LinkSnapshot& link, Direction d) {
  return fmt::format("link=\"{}\",direction=\"{}\"", label_value(link.name), to_string(d));
}

void delay_histogram(std::string& out, const std::string& l, const LatencyHistogram& h) {
  for (const double bound : kDelayBounds) {
    const auto at_most = Duration{static_cast<int64_t>(bound * 1e9)};
    out += fmt::format("badlink_delay_seconds_bucket{{{},le=\"{}\"}} {}\n", l, bound,
                       h.count_at_most(at_most));
  }
  out += fmt::format("badlink_delay_seconds_bucket{{{},le=\"+Inf\"}} {}\n", l, h.count());
  out += fmt::format("badlink_delay_seconds_sum{{{}}} {}\n", l, h.sum_ns() / 1e9);
  out += fmt::format("badlink_delay_seconds_count{{{}}} {}\n", l, h.count());
}

uint64_t in_badlink(const DirectionStats& s) {
  const uint64_t in = s.received + s.duplicated;
  const uint64_t out = s.sent + s.dropped_loss + s.dropped_queue + s.dropped_memory;
  return in > out ? in - out : 0;
}

}  // namespace

std::string label_value(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string prometheus_text(const RuntimeSnapshot& s, std::string_view version) {
  std::string out;
  constexpr std::array directions{Direction::outbound, Direction::inbound};
  family(out, "badlink_packets_total", "counter",
         "Packets per link, direction and outcome (lost: the loss model; queue_dropped: tail "
         "drop at the bottleneck).");
  for (const LinkSnapshot& link : s.links) {
    for (const Direction d : directions) {
      const DirectionStats& st = link.directions[index_of(d)];
      const std::string l = labels(link, d);
      const std::array<std::pair<std::string_view, uint64_t>, 8> outcomes{{
          {"received", st.received},
          {"sent", st.sent},
          {"lost", st.dropped_loss},
          {"queue_dropped", st.dropped_queue},
          {"duplicated", st.duplicated},
          {"reordered", st.reordered},
          {"corrupted", st.corrupted},
          {"malformed", st.malformed},
      }};
      for (const auto& [outcome, n] : outcomes) {
        out += fmt::format("badlink_packets_total{{{},outcome=\"{}\"}} {}\n", l, outcome, n);
      }
    }
  }
  family(out, "badlink_bytes_total", "counter", "Bytes sent on, per link and direction.");
  for (const LinkSnapshot& link : s.links) {
    for (const Direction d : directions) {
      out += fmt::format("badlink_bytes_total{{{}}} {}\n", labels(link, d),
                         link.directions[index_of(d)].bytes_sent);
    }
  }
  family(out, "badlink_delay_seconds", "histogram",
         "Time from arrival to departure of the packets sent on.");
  for (const LinkSnapshot& link : s.links) {
    for (const Direction d : directions) {
      delay_histogram(out, labels(link, d), link.directions[index_of(d)].delay);
    }
  }
  family(out, "badlink_queue_packets", "gauge",
         "Packets in badlink now: queued at the bottleneck or waiting out their delay.");
  for (const LinkSnapshot& link : s.links) {
    for (const Direction d : directions) {
      out += fmt::format("badlink_queue_packets{{{}}} {}\n", labels(link, d),
                         in_badlink(link.directions[index_of(d)]));
    }
  }
  family(out, "badlink_queue_bytes", "gauge",
         "IP bytes waiting in the bottleneck queue now (rate, or an outage that holds).");
  for (const LinkSnapshot& link : s.links) {
    for (const Direction d : directions) {
      out += fmt::format("badlink_queue_bytes{{{}}} {}\n", labels(link, d),
                         link.queued_bytes[index_of(d)]);
    }
  }
  family(out, "badlink_kernel_queue_dropped_total", "counter",
         "Packets the kernel dropped because a queue was full (all of badlink's queues).");
  out += fmt::format("badlink_kernel_queue_dropped_total {}\n", s.diversion.kernel_queue_dropped);
  family(out, "badlink_held_packets", "gauge", "Packets whose kernel verdict is outstanding.");
  out += fmt::format("badlink_held_packets {}\n", s.backend.held);
  family(out, "badlink_uptime_seconds", "gauge", "Seconds since badlink run started.");
  out += fmt::format("badlink_uptime_seconds {}\n", s.uptime_s);
  family(out, "badlink_build_info", "gauge", "badlink's version.");
  out += fmt::format("badlink_build_info{{version=\"{}\"}} 1\n", label_value(version));
  family(out, "badlink_profile_info", "gauge", "The running profile's name.");
  out += fmt::format("badlink_profile_info{{name=\"{}\"}} 1\n", label_value(s.profile));
  return out;
}

}  // namespace badlink::api
