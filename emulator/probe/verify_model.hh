// What `badlink verify` expects of one direction, and how far a measurement may stray: the
// probe plan (how many packets, how far apart), the delay law the engine should produce for
// that plan, and each figure's accepted range from the statistics of the sample sent.
//
// Every range is "expected value +- 4.5 standard errors of the sample", plus, for delays, what
// the path adds without badlink (the base path, measured) and a small fixed allowance for the
// host's timer precision. A correct emulator fails a figure about once in 150,000 runs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/time.hh"
#include "impairments/config.hh"
#include "probe/probe_stats.hh"

namespace badlink::probe {

inline constexpr double kSigmas = 4.5;

// Fixed allowances for what the host adds on top of the base path: timer and scheduling
// precision of a loaded machine (badlink's wake-ups, the probe threads, NFQUEUE round trips).
struct HostAllowance {
  double delay_ms = 0.5;          // on delay p50 and mean
  double delay_p99_ms = 2.0;      // on delay p99
  double spread_ms = 0.3;         // on jitter (std dev or IQR)
  double stall_ms = 100.0;        // the path held by stalls, in all (see find_stalls)
  double throughput_low = 0.05;   // fraction of the rate a busy host may lose
  double throughput_high = 0.01;  // fraction above it (stamp granularity)
};

// One line of the verdict table.
struct Figure {
  std::string name;         // "delay p50"
  std::string unit;         // "ms", "%", "Mbit/s"
  double configured = 0.0;  // what the profile implies for this sample, in `unit`
  double measured = 0.0;
  double low = 0.0;  // accepted range, in `unit`
  double high = 0.0;
  bool measurable = true;  // false: the testbed cannot show this figure; it does not count
  std::string note;        // why not measurable, or what "configured" includes

  bool ok() const { return !measurable || (measured >= low && measured <= high); }
};

// The one-way delays the engine gives one direction's packets arriving `spacing` apart: the
// configured distribution (clamped at zero, correlated), keep_order's max() at that spacing,
// and reordered packets skipping the delay, drawn with the impairment models themselves from
// a fixed seed over many packets. Nanoseconds.
class DelayLaw {
 public:
  DelayLaw(const DirectionConfig& config, Duration spacing, size_t draws = size_t{1} << 20);

  double quantile(double q) const;
  double mean() const { return mean_; }
  double sd() const { return sd_; }
  // Fourth central moment / sd^4 of the sample drawn (3 for a normal law); infinite in theory
  // for the pareto families, so their spread is judged by the interquartile range instead.
  double kurtosis() const { return kurtosis_; }
  // Fraction of packets that leave before one sent ahead of them: what the receiver counts as
  // early (ProbeSummary::early) at this spacing.
  double early_fraction() const { return early_fraction_; }

 private:
  std::vector<double> sorted_;
  double mean_ = 0.0;
  double sd_ = 0.0;
  double kurtosis_ = 0.0;
  double early_fraction_ = 0.0;
};

// The spread of a delay law that packets must be spaced by so that keep_order (or, without it,
// jitter) cannot change their order: Q(0.999) - Q(0.001) of the unordered law.
Duration delay_spread(const DirectionConfig& config);

// How verify probes one direction.
struct DirectionPlan {
  // delay stream: few packets, far apart, so the delay law is seen undisturbed
  Duration sparse_spacing{0};
  uint64_t sparse_count = 0;
  uint32_t sparse_payload = 32;
  // loss stream: many packets, well below the rate, for loss, duplicates and reordering
  double dense_pps = 0.0;
  uint64_t dense_count = 0;
  uint32_t dense_payload = 32;
  bool reorder_on_sparse = false;  // jitter without keep_order reorders the dense stream itself
  // rate stream: more than the rate, for the throughput at the receiver
  bool rate = false;
  double rate_pps = 0.0;
  uint64_t rate_count = 0;
  uint32_t rate_payload = 0;
  // how long after the last packet the receiver waits for stragglers
  Duration drain{0};
};

struct PlanBudget {
  Duration sparse = std::chrono::seconds(15);
  Duration dense = std::chrono::seconds(10);
  Duration rate = std::chrono::seconds(3);
  double max_dense_pps = 2000;
  uint32_t ip_overhead = 28;  // IPv4 + UDP
};

DirectionPlan plan_direction(const DirectionConfig& config, const PlanBudget& budget);

// Time the bottleneck takes to serialise `ip_bytes` (0 without a rate).
double serialization_ms(const DirectionConfig& config, uint32_t ip_bytes);

// The per-packet asymptotic variance of the loss indicator of a loss model (a Markov chain:
// Var + 2 * sum of autocovariances), so that the loss count of n packets has standard deviation
// sqrt(n * variance). Bernoulli: p(1 - p).
double loss_asymptotic_variance(const LossConfig& loss);

// The delay measured without badlink on the same path, in milliseconds.
struct BasePath {
  double p50_ms = 0.0;
  double p99_ms = 0.0;
  double mean_ms = 0.0;
  double sd_ms = 0.0;
};

// Delay p50, mean, p99 and jitter of the sparse stream.
std::vector<Figure> delay_figures(const DirectionConfig& config, const DelayLaw& law,
                                  double serialization, const DelaySummary& measured,
                                  const BasePath& base, const HostAllowance& allowance);

// A stall -- of the host, or of badlink -- holds every packet sent while it lasts and lets them
// go together when it ends: a run of consecutive packets whose delays exceed the law's largest
// and fall by the spacing from one to the next. One 40 ms stall in a 15 s sparse stream is a
// few packets, but it moves the sample standard deviation by a millisecond, so the delay
// figures leave such runs out and judge them on their own: by how long they held the path.
struct Stalls {
  std::vector<double> kept_ms;  // every other packet's delay, in sequence order
  size_t packets = 0;           // in runs
  size_t runs = 0;
  // Per run: the latest arrival of the run minus the moment its first packet was due (sent,
  // plus `due_ms`), summed. A stall of S ms counts about S; a packet that is simply late
  // counts its own lateness; a run of every packet counts the whole stream.
  double held_ms = 0.0;
  double worst_ms = 0.0;  // the longest run's share of held_ms
};

// Packets later than `limit_ms` (NaN: lost, skipped; it does not end a run), sent `spacing_ms`
// apart in sequence order.
Stalls find_stalls(std::span<const double> delays_by_seq, double spacing_ms, double limit_ms,
                   double due_ms);

// The delay beyond which a packet belongs to a stall: the law's largest draw, plus the
// serialisation, plus what the base path and the host may add to a p99.
double stall_limit_ms(const DelayLaw& law, double serialization, const BasePath& base,
                      const HostAllowance& allowance);

// "stalls": the time runs of late packets held the path, against HostAllowance::stall_ms.
Figure stall_figure(const Stalls& stalls, double limit_ms, const HostAllowance& allowance);

// Loss, duplicates, corruption (when configured or seen) and reordering.
struct CountSample {
  uint64_t sent = 0;
  uint64_t unique = 0;
  uint64_t duplicates = 0;
  uint64_t damaged = 0;
  uint32_t payload = 32;
};
std::vector<Figure> count_figures(const DirectionConfig& config, const CountSample& sample);

// Packets that overtook (ProbeSummary::early) against the law of the stream they were sent in.
Figure reorder_figure(const DirectionConfig& config, const DelayLaw& law, uint64_t unique,
                      uint64_t early);

Figure throughput_figure(const DirectionConfig& config, double measured_bps, double window_s,
                         double spread_ms, const HostAllowance& allowance);

// A q-quantile's order statistic in n effective samples lies, with kSigmas certainty, between
// these two quantile levels.
struct QuantileLevels {
  double low = 0.0;
  double high = 1.0;
};
QuantileLevels quantile_band(double q, double n_effective);

// n / ((1 + rho) / (1 - rho)): samples worth of an AR(1) series with lag-1 correlation rho.
double effective_samples(double n, double rho);

}  // namespace badlink::probe
