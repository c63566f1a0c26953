// verify_report() and the formatting of its figures.
#include "probe/verify_report.hh"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "probe/probe_packet.hh"

namespace badlink::probe {

namespace {

struct Tally {
  size_t judged = 0;
  size_t failed = 0;
  size_t unmeasurable = 0;
};

std::string sent_line(const DirectionResult& d) {
  std::string rate_line;
  if (d.rate.measured) {
    const double ip_bits = (d.rate.payload + kUdpIpv4Overhead) * 8.0;
    const double offered = d.rate.achieved_pps * ip_bits;
    rate_line = fmt::format(", {} of {} B in {:.1f} s at {} (throughput)", d.rate.sent,
                            d.rate.payload, d.rate.elapsed_s, format_rate(offered));
  }
  return fmt::format("sent {} packets {:.1f} ms apart (delay), {} at {:.0f}/s (loss, reordering){}",
                     d.sparse.sent, d.sparse.spacing_ms, d.dense.sent, d.dense.pps, rate_line);
}

std::string figure_row(const std::string& name, const std::string& configured,
                       const std::string& measured, const std::string& tolerance,
                       const std::string& verdict) {
  return fmt::format("  {:<18} {:>14} {:>14} {:>22}  {}\n", name, configured, measured, tolerance,
                     verdict);
}

std::string direction_section(const DirectionResult& d, Tally& tally) {
  std::string out = '\n' + direction_label(d.direction) + "\n  " + sent_line(d) + '\n';
  out += fmt::format("  base path without badlink: delay p50 {:.3f} ms, p99 {:.3f} ms\n",
                     d.base_p50_ms, d.base_p99_ms);
  out += figure_row("figure", "configured", "measured", "tolerance", "ok");
  for (const Figure& f : d.figures) {
    ++tally.judged;
    if (!f.measurable) {
      ++tally.unmeasurable;
    } else if (!f.ok()) {
      ++tally.failed;
    }
    const char* verdict = !f.measurable ? "n/a" : f.ok() ? "yes" : "NO";
    out += figure_row(f.name, format_value(f.configured, f.unit), format_value(f.measured, f.unit),
                      format_tolerance(f), verdict);
  }
  for (const Figure& f : d.figures) {
    if (!f.note.empty() && (!f.measurable || f.name == "delay p50" || f.name == "stalls")) {
      out += fmt::format("  note: {}: {}\n", f.name, f.note);
    }
  }
  return out;
}

std::string verdict_line(bool ok, const Tally& tally) {
  const size_t counted = tally.judged - tally.unmeasurable;
  std::string out =
      ok ? fmt::format("verdict: all {} figures within tolerance", counted)
         : fmt::format("verdict: {} of {} figures OUTSIDE their tolerance", tally.failed, counted);
  if (tally.unmeasurable > 0) {
    out += fmt::format(" ({} not measurable on this testbed)", tally.unmeasurable);
  }
  return out + '\n';
}

}  // namespace

std::string format_rate(double bps) {
  return bps < 1e6 ? fmt::format("{:.1f} kbit/s", bps / 1e3)
                   : fmt::format("{:.2f} Mbit/s", bps / 1e6);
}

std::string format_value(double value, const std::string& unit) {
  if (unit == "%") {
    return fmt::format("{:.3f} %", value);
  }
  if (unit == "ms") {
    return fmt::format("{:.2f} ms", value);
  }
  return fmt::format("{:.3f} {}", value, unit);
}

std::string format_tolerance(const Figure& figure) {
  const Figure& f = figure;
  if (!f.measurable) {
    return "-";
  }
  const double below = f.configured - f.low;
  const double above = f.high - f.configured;
  const int digits = f.unit == "%" ? 3 : f.unit == "ms" ? 2 : 3;
  if (below < 0.5 * std::pow(10.0, -digits)) {
    return fmt::format("0/+{:.{}f} {}", above, digits, f.unit);
  }
  if (std::abs(below - above) <= 0.01 * std::max(std::abs(below), std::abs(above))) {
    return fmt::format("±{:.{}f} {}", above, digits, f.unit);
  }
  return fmt::format("-{:.{}f}/+{:.{}f} {}", below, digits, above, digits, f.unit);
}

std::string direction_label(Direction direction) {
  return direction == Direction::outbound
             ? "outbound: client -> server, leaving through the WAN interface"
             : "inbound: server -> client, arriving from the WAN interface";
}

std::string verify_report(const VerifyResult& result) {
  std::string out;
  if (!result.run_clean()) {
    out += fmt::format("badlink run did not exit cleanly (status {}):{}\n",
                       result.run_status ? std::to_string(*result.run_status) : "killed",
                       result.run_log_tail);
  }
  Tally tally;
  for (const DirectionResult& d : result.directions) {
    out += direction_section(d, tally);
  }
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    const bool measured = std::any_of(result.directions.begin(), result.directions.end(),
                                      [d](const DirectionResult& r) { return r.direction == d; });
    if (!measured) {
      out += '\n' + direction_label(d) + "\n  not impaired by the profile: not measured\n";
    }
  }
  return out + '\n' + verdict_line(result.ok, tally);
}

}  // namespace badlink::probe
