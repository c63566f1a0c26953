// Summaries of probe arrivals; see probe_stats.hh.
#include "probe/probe_stats.hh"

#include <algorithm>
#include <cmath>
#include <limits>

namespace badlink::probe {

double quantile(std::span<const double> sorted, double q) {
  if (sorted.empty()) {
    return 0.0;
  }
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

DelaySummary describe_delays(std::vector<double> values) {
  DelaySummary d;
  d.n = values.size();
  if (values.empty()) {
    return d;
  }
  std::sort(values.begin(), values.end());
  d.min = values.front();
  d.max = values.back();
  d.p25 = quantile(values, 0.25);
  d.p50 = quantile(values, 0.50);
  d.p75 = quantile(values, 0.75);
  d.p99 = quantile(values, 0.99);
  double sum = 0.0;
  for (const double v : values) {
    sum += v;
  }
  d.mean = sum / static_cast<double>(values.size());
  double squares = 0.0;
  for (const double v : values) {
    squares += (v - d.mean) * (v - d.mean);
  }
  d.stddev = values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : 0.0;
  return d;
}

ProbeSummary summarize(const ReceiveReport& report, uint64_t expected, uint32_t ip_overhead) {
  ProbeSummary s;
  s.expected = expected;
  std::vector<uint8_t> seen(expected, 0);
  std::vector<uint64_t> firsts;  // sequence numbers of first intact copies, in arrival order
  firsts.reserve(expected);
  std::vector<double> delay_by_seq(expected, std::numeric_limits<double>::quiet_NaN());
  for (const Arrival& a : report.arrivals) {
    ++s.received;
    if (a.damaged || a.seq >= expected) {
      ++s.damaged;
      continue;
    }
    if (seen[a.seq] != 0) {
      ++s.duplicates;
      continue;
    }
    seen[a.seq] = 1;
    firsts.push_back(a.seq);
    delay_by_seq[a.seq] = static_cast<double>(a.received_ns - a.sent_ns) / 1e6;
  }
  s.unique = firsts.size();
  s.lost = expected - s.unique;

  uint64_t highest = 0;
  for (size_t i = 0; i < firsts.size(); ++i) {
    if (i > 0 && firsts[i] < highest) {
      ++s.late;
    }
    highest = std::max(highest, firsts[i]);
  }
  uint64_t lowest_later = std::numeric_limits<uint64_t>::max();
  for (size_t i = firsts.size(); i-- > 0;) {
    if (firsts[i] > lowest_later) {
      ++s.early;
    }
    lowest_later = std::min(lowest_later, firsts[i]);
  }

  for (const double d : delay_by_seq) {
    if (!std::isnan(d)) {
      s.delays_ms.push_back(d);
    }
  }
  s.delay = describe_delays(s.delays_ms);
  s.delay_by_seq_ms = std::move(delay_by_seq);

  if (report.arrivals.size() >= 2) {
    const Arrival& first = report.arrivals.front();
    const Arrival& last = report.arrivals.back();
    uint64_t bytes = 0;
    for (size_t i = 1; i < report.arrivals.size(); ++i) {
      bytes += report.arrivals[i].bytes + ip_overhead;
    }
    const double span_s = static_cast<double>(last.received_ns - first.received_ns) / 1e9;
    s.throughput_bps = span_s > 0 ? static_cast<double>(bytes) * 8.0 / span_s : 0.0;
    s.throughput_window_s = span_s;
  }
  return s;
}

}  // namespace badlink::probe
