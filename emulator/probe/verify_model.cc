// verify's expectations and tolerances; see verify_model.hh.
#include "probe/verify_model.hh"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/rng.hh"
#include "impairments/delay.hh"
#include "impairments/loss.hh"

namespace badlink::probe {

namespace {

constexpr uint64_t kLawSeed = 0x7665726966790001ULL;  // fixed: the expectation is reproducible
constexpr double kUdpHeaderBitsCorruptible = 48;      // ports and length; the checksum is spared
constexpr double kUdpLengthBits = 16;

double ms(double ns) { return ns / 1e6; }

double reorder_fraction(const DirectionConfig& c) {
  if (c.reorder <= 0.0) {
    return 0.0;
  }
  // netem's gap: gap - 1 packets pass, then each is reordered with probability r (a renewal).
  const double gap = std::max<uint32_t>(c.reorder_gap, 1);
  return c.reorder / (1.0 + c.reorder * (gap - 1.0));
}

// A small Markov chain: transition matrix, stationary law and loss probability per state.
struct Chain {
  size_t states = 1;
  std::array<std::array<double, 4>, 4> p{};
  std::array<double, 4> pi{};
  std::array<double, 4> lose{};
};

Chain chain_of(const LossConfig& loss) {
  Chain c;
  if (const auto* b = std::get_if<BernoulliLoss>(&loss)) {
    c.p[0][0] = 1.0;
    c.pi[0] = 1.0;
    c.lose[0] = b->p;
  } else if (const auto* g = std::get_if<GilbertElliottLoss>(&loss)) {
    c.states = 2;
    c.p[0] = {1 - g->p, g->p};
    c.p[1] = {g->r, 1 - g->r};
    const double bad = g->p + g->r > 0 ? g->p / (g->p + g->r) : 0.0;
    c.pi = {1 - bad, bad};
    c.lose = {1 - g->k, 1 - g->h};
  } else if (const auto* m = std::get_if<MarkovLoss>(&loss)) {
    c.states = 4;
    c.p[0] = {1 - m->p13 - m->p14, 0, m->p13, m->p14};
    c.p[1] = {0, 1 - m->p23, m->p23, 0};
    c.p[2] = {m->p31, m->p32, 1 - m->p31 - m->p32, 0};
    c.p[3] = {1, 0, 0, 0};
    c.lose = {0, 0, 1, 1};
    // Stationary law by power iteration from the uniform law; the chains validated profiles
    // allow mix within a few thousand steps, a million is the hard stop.
    std::array<double, 4> pi{0.25, 0.25, 0.25, 0.25};
    for (int step = 0; step < 1'000'000; ++step) {
      std::array<double, 4> next{};
      for (size_t i = 0; i < 4; ++i) {
        for (size_t j = 0; j < 4; ++j) {
          next[j] += pi[i] * c.p[i][j];
        }
      }
      double change = 0.0;
      for (size_t j = 0; j < 4; ++j) {
        change = std::max(change, std::abs(next[j] - pi[j]));
      }
      pi = next;
      if (change < 1e-15) {
        break;
      }
    }
    c.pi = pi;
  }
  return c;
}

}  // namespace

DelayLaw::DelayLaw(const DirectionConfig& config, Duration spacing, size_t draws) {
  Rng rng(kLawSeed);
  DelayModel delay(config.delay);
  LossModel loss(config.loss);
  const double step = static_cast<double>(spacing.count());
  const double reorder_p = config.reorder;
  const uint32_t gap = std::max<uint32_t>(config.reorder_gap, 1);
  uint32_t reorder_counter = 0;
  // Times relative to the current packet's arrival, so that long runs keep their precision.
  double since_arrival = 0.0;  // time from the last kept packet's arrival to this one's
  double last_departure = -std::numeric_limits<double>::infinity();  // delayed packets only
  double latest = -std::numeric_limits<double>::infinity();          // any packet
  uint64_t early = 0;
  sorted_.reserve(draws);
  const size_t attempts = draws * 64;
  for (size_t i = 0; i < attempts && sorted_.size() < draws; ++i) {
    since_arrival += step;
    if (loss.lose(rng)) {
      continue;
    }
    last_departure -= since_arrival;
    latest -= since_arrival;
    since_arrival = 0.0;
    double d = 0.0;
    bool reordered = false;
    if (reorder_p > 0.0) {
      if (reorder_counter + 1 >= gap && rng.chance(reorder_p)) {
        reorder_counter = 0;
        reordered = true;
      } else {
        ++reorder_counter;
      }
    }
    if (!reordered) {
      d = static_cast<double>(delay.sample(rng).count());
      if (config.delay.keep_order) {
        d = std::max(d, last_departure);
      }
      last_departure = std::max(last_departure, d);
    }
    if (d < latest) {
      ++early;
    }
    latest = std::max(latest, d);
    sorted_.push_back(d);
  }
  if (sorted_.empty()) {
    sorted_.push_back(0.0);
  }
  early_fraction_ = static_cast<double>(early) / static_cast<double>(sorted_.size());
  std::sort(sorted_.begin(), sorted_.end());
  double sum = 0.0;
  for (const double d : sorted_) {
    sum += d;
  }
  mean_ = sum / static_cast<double>(sorted_.size());
  double m2 = 0.0;
  double m4 = 0.0;
  for (const double d : sorted_) {
    const double x = (d - mean_) * (d - mean_);
    m2 += x;
    m4 += x * x;
  }
  m2 /= static_cast<double>(sorted_.size());
  m4 /= static_cast<double>(sorted_.size());
  sd_ = std::sqrt(m2);
  kurtosis_ = m2 > 0 ? m4 / (m2 * m2) : 3.0;
}

double DelayLaw::quantile(double q) const { return probe::quantile(sorted_, q); }

Duration delay_spread(const DirectionConfig& config) {
  DirectionConfig unordered = config;
  unordered.reorder = 0.0;
  unordered.loss = std::monostate{};
  const DelayLaw law(unordered, std::chrono::hours(1), size_t{1} << 18);
  return Duration{static_cast<int64_t>(std::ceil(law.quantile(0.999) - law.quantile(0.001)))};
}

double serialization_ms(const DirectionConfig& config, uint32_t ip_bytes) {
  if (config.rate.bits_per_second == 0) {
    return 0.0;
  }
  return static_cast<double>(ip_bytes) * 8.0 * 1e3 /
         static_cast<double>(config.rate.bits_per_second);
}

DirectionPlan plan_direction(const DirectionConfig& config, const PlanBudget& budget) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  DirectionPlan plan;
  const uint32_t sparse_ip = plan.sparse_payload + budget.ip_overhead;

  // Sparse: wider apart than the law's spread (so keep_order never binds and jitter never
  // reorders), and than the serialisation of a probe (so none ever waits in the bottleneck).
  const double serial_ns = serialization_ms(config, sparse_ip) * 1e6;
  double spacing = std::max<double>(2e6, static_cast<double>(delay_spread(config).count()) + 1e6);
  spacing = std::min(spacing, 250e6);  // beyond that keep_order's remaining effect is in the law
  spacing = std::max(spacing, 4.0 * serial_ns);
  plan.sparse_spacing = Duration{static_cast<int64_t>(spacing)};
  plan.sparse_count = std::max<uint64_t>(
      20, static_cast<uint64_t>(static_cast<double>(budget.sparse.count()) / spacing));

  // Dense: at most 40% of the rate, so the bottleneck queue stays empty and drops nothing.
  const double dense_bits = static_cast<double>(plan.dense_payload + budget.ip_overhead) * 8.0;
  plan.dense_pps = budget.max_dense_pps;
  if (config.rate.bits_per_second > 0) {
    plan.dense_pps = std::min(plan.dense_pps,
                              0.4 * static_cast<double>(config.rate.bits_per_second) / dense_bits);
  }
  plan.dense_count = std::max<uint64_t>(
      1, static_cast<uint64_t>(plan.dense_pps * static_cast<double>(budget.dense.count()) / 1e9));
  plan.reorder_on_sparse = !config.delay.keep_order && config.delay.jitter.count() > 0;

  // Rate: 25% more than the rate reaches the bottleneck after loss, in packets small enough
  // that a few hundred arrive in the time given.
  double longest_queue_s = 0.0;
  if (config.rate.bits_per_second > 0) {
    plan.rate = true;
    const double rate = static_cast<double>(config.rate.bits_per_second);
    const double window_s = static_cast<double>(budget.rate.count()) / 1e9;
    const double ip_bytes =
        std::clamp(rate / 8.0 * window_s / 300.0, 32.0 + budget.ip_overhead, 1500.0);
    plan.rate_payload = static_cast<uint32_t>(ip_bytes) - budget.ip_overhead;
    const double lost = std::min(0.5, LossModel::stationary_loss(config.loss) + config.corrupt);
    plan.rate_pps = 1.25 * rate / (1.0 - lost) / (ip_bytes * 8.0);
    plan.rate_count = std::max<uint64_t>(3, static_cast<uint64_t>(plan.rate_pps * window_s));
    const double queue_bytes = config.queue.bytes > 0
                                   ? static_cast<double>(config.queue.bytes)
                                   : static_cast<double>(config.queue.packets) * ip_bytes;
    longest_queue_s = std::min(10.0, queue_bytes * 8.0 / rate);
  }

  DirectionConfig unordered = config;
  unordered.loss = std::monostate{};
  const DelayLaw law(unordered, std::chrono::hours(1), size_t{1} << 16);
  plan.drain =
      duration_cast<Duration>(milliseconds(500)) +
      Duration{static_cast<int64_t>(law.quantile(1.0) + longest_queue_s * 1e9 + 4 * serial_ns)};
  return plan;
}

double loss_asymptotic_variance(const LossConfig& loss) {
  if (std::holds_alternative<std::monostate>(loss)) {
    return 0.0;
  }
  const Chain c = chain_of(loss);
  const size_t n = c.states;
  // Given the states, losses are independent: their own variance, plus the chain's variance of
  // the state's loss probability g, whose autocovariances sum to a geometric-like series.
  double within = 0.0;
  double mean_g = 0.0;
  for (size_t s = 0; s < n; ++s) {
    within += c.pi[s] * c.lose[s] * (1 - c.lose[s]);
    mean_g += c.pi[s] * c.lose[s];
  }
  std::array<double, 4> centred{};
  double var_g = 0.0;
  for (size_t s = 0; s < n; ++s) {
    centred[s] = c.lose[s] - mean_g;
    var_g += c.pi[s] * centred[s] * centred[s];
  }
  double covariances = 0.0;
  std::array<double, 4> v = centred;  // P^k g~
  for (int k = 1; k <= 10'000'000; ++k) {
    std::array<double, 4> next{};
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) {
        next[i] += c.p[i][j] * v[j];
      }
    }
    v = next;
    double cov = 0.0;
    double size = 0.0;
    for (size_t s = 0; s < n; ++s) {
      cov += c.pi[s] * centred[s] * v[s];
      size = std::max(size, std::abs(v[s]));
    }
    covariances += cov;
    if (size < 1e-13) {
      break;
    }
  }
  return within + var_g + 2.0 * covariances;
}

QuantileLevels quantile_band(double q, double n_effective) {
  if (n_effective <= 0) {
    return {0.0, 1.0};
  }
  const double half = kSigmas * std::sqrt(q * (1 - q) / n_effective);
  return {std::max(0.0, q - half), std::min(1.0, q + half)};
}

double effective_samples(double n, double rho) {
  rho = std::clamp(rho, 0.0, 0.999);
  return n * (1 - rho) / (1 + rho);
}

std::vector<Figure> delay_figures(const DirectionConfig& config, const DelayLaw& law,
                                  double serialization, const DelaySummary& m, const BasePath& base,
                                  const HostAllowance& allowance) {
  const double n = static_cast<double>(m.n);
  const double rho = config.delay.jitter.count() > 0 ? config.delay.correlation : 0.0;
  const double n_eff = effective_samples(n, rho);
  const std::string note =
      serialization > 0.0005
          ? "includes " + std::to_string(serialization).substr(0, 5) + " ms of serialisation"
          : "";
  std::vector<Figure> figures;

  const QuantileLevels b50 = quantile_band(0.5, n_eff);
  figures.push_back({"delay p50", "ms", ms(law.quantile(0.5)) + serialization, m.p50,
                     ms(law.quantile(b50.low)) + serialization,
                     ms(law.quantile(b50.high)) + serialization + base.p50_ms + allowance.delay_ms,
                     m.n > 0, note});

  const double se_mean = ms(law.sd()) / std::sqrt(std::max(n_eff, 1.0));
  const double mean = ms(law.mean()) + serialization;
  figures.push_back({"delay mean", "ms", mean, m.mean, mean - kSigmas * se_mean,
                     mean + kSigmas * se_mean + base.mean_ms + allowance.delay_ms, m.n > 0, note});

  const QuantileLevels b99 = quantile_band(0.99, n_eff);
  figures.push_back({"delay p99", "ms", ms(law.quantile(0.99)) + serialization, m.p99,
                     ms(law.quantile(b99.low)) + serialization,
                     ms(law.quantile(std::min(b99.high, 1.0 - 1e-6))) + serialization +
                         base.p99_ms + allowance.delay_p99_ms,
                     m.n > 0, note});

  const bool heavy_tail = config.delay.jitter.count() > 0 &&
                          (config.delay.distribution == DelayDistribution::pareto ||
                           config.delay.distribution == DelayDistribution::paretonormal);
  if (heavy_tail) {
    // The sample standard deviation of a pareto (alpha = 3) law has no finite variance: judge
    // the spread by the interquartile range, whose order statistics behave.
    const QuantileLevels b25 = quantile_band(0.25, n_eff);
    const QuantileLevels b75 = quantile_band(0.75, n_eff);
    figures.push_back(
        {"jitter (IQR)", "ms", ms(law.quantile(0.75) - law.quantile(0.25)), m.p75 - m.p25,
         ms(law.quantile(b75.low) - law.quantile(b25.high)),
         ms(law.quantile(b75.high) - law.quantile(b25.low)) + base.sd_ms + allowance.spread_ms,
         m.n > 1, "p75 - p25"});
  } else {
    // Standard error of a sample standard deviation: sd * sqrt((kurtosis - 1) / 4n), with n
    // reduced for correlation (the squares of an AR(1) series correlate with rho^2).
    const double n_sq = n * (1 - rho * rho) / (1 + rho * rho);
    const double sd = ms(law.sd());
    const double se =
        sd * std::sqrt(std::max(law.kurtosis() - 1.0, 0.0) / (4.0 * std::max(n_sq, 1.0)));
    figures.push_back({"jitter (std dev)", "ms", sd, m.stddev, std::max(0.0, sd - kSigmas * se),
                       sd + kSigmas * se + base.sd_ms + allowance.spread_ms, m.n > 1, ""});
  }
  return figures;
}

Stalls find_stalls(std::span<const double> delays_by_seq, double spacing_ms, double limit_ms,
                   double due_ms) {
  Stalls s;
  s.kept_ms.reserve(delays_by_seq.size());
  bool in_run = false;
  size_t first = 0;
  double latest = 0.0;  // the run's latest arrival, from the first packet's sending
  const auto close_run = [&] {
    if (in_run) {
      const double held = std::max(0.0, latest - due_ms);
      s.held_ms += held;
      s.worst_ms = std::max(s.worst_ms, held);
      ++s.runs;
      in_run = false;
    }
  };
  for (size_t i = 0; i < delays_by_seq.size(); ++i) {
    const double d = delays_by_seq[i];
    if (std::isnan(d)) {
      continue;
    }
    if (d <= limit_ms) {
      close_run();
      s.kept_ms.push_back(d);
      continue;
    }
    if (!in_run) {
      in_run = true;
      first = i;
      latest = d;
    }
    latest = std::max(latest, static_cast<double>(i - first) * spacing_ms + d);
    ++s.packets;
  }
  close_run();
  return s;
}

double stall_limit_ms(const DelayLaw& law, double serialization, const BasePath& base,
                      const HostAllowance& allowance) {
  return ms(law.quantile(1.0)) + serialization + base.p99_ms + allowance.delay_p99_ms;
}

Figure stall_figure(const Stalls& stalls, double limit_ms, const HostAllowance& allowance) {
  Figure f{"stalls", "ms", 0.0, stalls.held_ms, 0.0, allowance.stall_ms, true, ""};
  if (stalls.runs > 0) {
    f.note = fmt::format(
        "{} packet{} in {} run{} later than {:.2f} ms (the law's largest + serialisation + "
        "base-path p99 + {:g} ms) held the path {:.1f} ms (longest {:.1f} ms); left out of the "
        "delay figures above",
        stalls.packets, stalls.packets == 1 ? "" : "s", stalls.runs, stalls.runs == 1 ? "" : "s",
        limit_ms, allowance.delay_p99_ms, stalls.held_ms, stalls.worst_ms);
  }
  return f;
}

std::vector<Figure> count_figures(const DirectionConfig& config, const CountSample& s) {
  std::vector<Figure> figures;
  const double n = static_cast<double>(std::max<uint64_t>(s.sent, 1));
  const double one = 1.0 / n;  // one packet the host itself may lose or garble
  const double loss = LossModel::stationary_loss(config.loss);
  const double dup = config.duplicate;
  const double corrupt = config.corrupt;
  const double bits = static_cast<double>(s.payload) * 8.0;
  const double payload_share = bits / (kUdpHeaderBitsCorruptible + bits);
  const double length_share = kUdpLengthBits / (kUdpHeaderBitsCorruptible + bits);
  // A copy fails to arrive intact when lost, or corrupted (a flipped bit in the UDP ports or
  // length loses it; in the payload the receiver notices). A packet is lost when no copy
  // arrives intact.
  const double fail = loss + (1 - loss) * corrupt;
  const double expected_loss = (1 - dup) * fail + dup * fail * fail;
  const double var_loss =
      std::max(loss_asymptotic_variance(config.loss) + (1 - loss) * corrupt * (1 - corrupt),
               expected_loss * (1 - expected_loss));
  const double tol_loss = kSigmas * std::sqrt(var_loss / n);
  figures.push_back({"loss", "%", 100 * expected_loss,
                     100 * static_cast<double>(s.sent - std::min(s.unique, s.sent)) / n,
                     100 * std::max(0.0, expected_loss - tol_loss),
                     100 * (expected_loss + tol_loss + one), s.sent > 0,
                     std::holds_alternative<GilbertElliottLoss>(config.loss) ||
                             std::holds_alternative<MarkovLoss>(config.loss)
                         ? "long-run rate of the loss chain"
                         : ""});

  const double expected_dup = dup * (1 - fail) * (1 - fail);
  const double tol_dup = kSigmas * std::sqrt(expected_dup * (1 - expected_dup) / n);
  figures.push_back({"duplicates", "%", 100 * expected_dup,
                     100 * static_cast<double>(s.duplicates) / n,
                     100 * std::max(0.0, expected_dup - tol_dup),
                     100 * (expected_dup + tol_dup + one), s.sent > 0, ""});

  if (corrupt > 0 || s.damaged > 0) {
    const double copies = (1 + dup) * (1 - loss) * corrupt;
    const double expected = copies * payload_share;
    const double tol = kSigmas * std::sqrt(expected * (1 - expected) / n);
    figures.push_back({"corruption", "%", 100 * expected, 100 * static_cast<double>(s.damaged) / n,
                       100 * std::max(0.0, expected - tol),
                       100 * (expected + tol + copies * length_share + one), s.sent > 0,
                       "bits flipped in the probe payload"});
  }
  return figures;
}

Figure reorder_figure(const DirectionConfig& config, const DelayLaw& law, uint64_t unique,
                      uint64_t early) {
  const double n = static_cast<double>(std::max<uint64_t>(unique, 1));
  const double expected = law.early_fraction();
  const double tol = kSigmas * std::sqrt(expected * (1 - expected) / n);
  Figure f{"reordering",
           "%",
           100 * expected,
           100 * static_cast<double>(early) / n,
           100 * std::max(0.0, expected - tol),
           100 * (expected + tol + 1.0 / n),
           unique > 0,
           "packets that overtook an earlier one"};
  const double configured = reorder_fraction(config);
  if (configured > 0 && expected < 0.5 * configured) {
    f.measurable = false;
    f.note = "the delay is too short for reordered packets to overtake at this spacing";
  }
  return f;
}

Figure throughput_figure(const DirectionConfig& config, double measured_bps, double window_s,
                         double spread_ms, const HostAllowance& allowance) {
  const double rate = static_cast<double>(config.rate.bits_per_second);
  const bool kilo = rate < 1e6;
  const double unit = kilo ? 1e3 : 1e6;
  // The first and last arrivals can each be moved by the delay's spread.
  const double edge = window_s > 0 ? 2.0 * spread_ms / 1e3 / window_s : 1.0;
  return {"throughput",
          kilo ? "kbit/s" : "Mbit/s",
          rate / unit,
          measured_bps / unit,
          rate * (1 - allowance.throughput_low - edge) / unit,
          rate * (1 + allowance.throughput_high + edge) / unit,
          window_s > 0,
          "IP bytes at the receiver, sent at 125% of the rate"};
}

}  // namespace badlink::probe
