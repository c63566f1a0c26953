// Each impairment's statistics at fixed seeds. Every tolerance is 4.5 standard deviations of
// the estimator, derived from the distribution being sampled (for Markov chains, from the
// chain's asymptotic variance), never from a lucky run.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <vector>

#include "core/packet_pool.hh"
#include "core/rng.hh"
#include "impairments/corrupt.hh"
#include "impairments/delay.hh"
#include "impairments/loss.hh"
#include "impairments/rate.hh"
#include "test_packets.hh"

namespace badlink {
namespace {

constexpr double kSigmas = 4.5;

double binomial_tolerance(double p, double n) { return kSigmas * std::sqrt(p * (1 - p) / n); }

// Asymptotic variance (per sample) of the mean of L_i, where the chain S_i has transition
// matrix P and L_i is Bernoulli(f[S_i]): sum of the within-state noise and the autocovariance
// of f(S) summed over all lags (computed by propagating the chain until it has mixed).
template <size_t N>
double chain_variance(const std::array<std::array<double, N>, N>& P,
                      const std::array<double, N>& f) {
  std::array<double, N> pi{};
  pi[0] = 1.0;
  for (int it = 0; it < 200000; ++it) {
    std::array<double, N> next{};
    for (size_t i = 0; i < N; ++i) {
      for (size_t j = 0; j < N; ++j) {
        next[j] += pi[i] * P[i][j];
      }
    }
    pi = next;
  }
  double mean = 0;
  double noise = 0;
  for (size_t i = 0; i < N; ++i) {
    mean += pi[i] * f[i];
    noise += pi[i] * f[i] * (1 - f[i]);
  }
  // g_k(i) = E[f(S_k) | S_0 = i]; cov_k = sum_i pi_i f_i (g_k(i) - mean).
  std::array<double, N> g = f;
  double var = 0;
  for (size_t i = 0; i < N; ++i) {
    var += pi[i] * (f[i] - mean) * (f[i] - mean);
  }
  for (int k = 1; k < 100000; ++k) {
    std::array<double, N> gn{};
    for (size_t i = 0; i < N; ++i) {
      for (size_t j = 0; j < N; ++j) {
        gn[i] += P[i][j] * g[j];
      }
    }
    g = gn;
    double cov = 0;
    for (size_t i = 0; i < N; ++i) {
      cov += pi[i] * f[i] * (g[i] - mean);
    }
    var += 2 * cov;
    if (std::abs(cov) < 1e-15) {
      break;
    }
  }
  return var + noise;
}

struct LossRun {
  double loss_rate;
  double mean_burst;
  double bursts;
  double burst_variance;  // sample variance of the burst lengths
};

LossRun run_loss(const LossConfig& config, int n, uint64_t seed) {
  LossModel model(config);
  Rng rng(seed);
  int64_t lost = 0;
  int64_t bursts = 0;
  double sum_sq = 0;
  int64_t run = 0;
  bool previous = false;
  for (int i = 0; i < n; ++i) {
    const bool l = model.lose(rng);
    lost += l;
    bursts += (l && !previous);
    if (l) {
      ++run;
    } else if (run > 0) {
      sum_sq += static_cast<double>(run * run);
      run = 0;
    }
    previous = l;
  }
  sum_sq += static_cast<double>(run * run);
  const double mean_run = bursts ? static_cast<double>(lost) / static_cast<double>(bursts) : 0.0;
  const double var_run =
      bursts > 1 ? sum_sq / static_cast<double>(bursts) - mean_run * mean_run : 0.0;
  return {static_cast<double>(lost) / n, mean_run, static_cast<double>(bursts), var_run};
}

TEST(Loss, BernoulliRate) {
  const int n = 2'000'000;
  const auto r = run_loss(BernoulliLoss{0.01}, n, 1);
  EXPECT_NEAR(r.loss_rate, 0.01, binomial_tolerance(0.01, n));
}

TEST(Loss, GilbertReproducesStationaryRateAndBurstLength) {
  const GilbertElliottLoss g{.p = 0.01, .r = 0.3, .h = 0.0, .k = 1.0};
  const int n = 2'000'000;
  const auto run = run_loss(g, n, 2);
  const double expected = LossModel::stationary_loss(g);
  EXPECT_NEAR(expected, 0.01 / 0.31, 1e-12);
  const std::array<std::array<double, 2>, 2> P{{{1 - g.p, g.p}, {g.r, 1 - g.r}}};
  const double sd = std::sqrt(chain_variance<2>(P, {1 - g.k, 1 - g.h}) / n);
  EXPECT_NEAR(run.loss_rate, expected, kSigmas * sd);
  // Bursts are geometric with continuation 1 - r: mean 1/r, variance (1 - r)/r^2.
  EXPECT_NEAR(LossModel::mean_burst_length(g), 1 / g.r, 1e-12);
  EXPECT_NEAR(run.mean_burst, 1 / g.r, kSigmas * std::sqrt((1 - g.r) / (g.r * g.r) / run.bursts));
}

TEST(Loss, GilbertElliottWithSurvivalInBothStates) {
  // h and k are survival probabilities (classic definition): 70% survive in bad, 99.9% in good.
  const GilbertElliottLoss g{.p = 0.02, .r = 0.25, .h = 0.3, .k = 0.999};
  const int n = 3'000'000;
  const auto run = run_loss(g, n, 3);
  const double pi_bad = g.p / (g.p + g.r);
  const double expected = (1 - pi_bad) * (1 - g.k) + pi_bad * (1 - g.h);
  EXPECT_NEAR(LossModel::stationary_loss(g), expected, 1e-12);
  const std::array<std::array<double, 2>, 2> P{{{1 - g.p, g.p}, {g.r, 1 - g.r}}};
  EXPECT_NEAR(run.loss_rate, expected,
              kSigmas * std::sqrt(chain_variance<2>(P, {1 - g.k, 1 - g.h}) / n));
  // Mean burst: the analytic value, within 4.5 standard errors of the sample mean of the burst
  // lengths (bursts are separated by received packets, so close to independent).
  const double mb = LossModel::mean_burst_length(g);
  EXPECT_NEAR(run.mean_burst, mb, kSigmas * std::sqrt(run.burst_variance / run.bursts));
}

TEST(Loss, FourStateMarkovReproducesStationaryRateAndBurstLength) {
  const MarkovLoss m{.p13 = 0.01, .p31 = 0.4, .p32 = 0.3, .p23 = 0.2, .p14 = 0.005};
  const int n = 3'000'000;
  const auto run = run_loss(m, n, 4);
  // Transition matrix with loss in states 3 and 4 (index 2 and 3).
  const std::array<std::array<double, 4>, 4> P{{{1 - m.p13 - m.p14, 0, m.p13, m.p14},
                                                {0, 1 - m.p23, m.p23, 0},
                                                {m.p31, m.p32, 1 - m.p31 - m.p32, 0},
                                                {1, 0, 0, 0}}};
  const std::array<double, 4> f{0, 0, 1, 1};
  const double expected = LossModel::stationary_loss(m);
  EXPECT_NEAR(run.loss_rate, expected, kSigmas * std::sqrt(chain_variance<4>(P, f) / n));
  // Burst length from 3 is geometric (continue 1 - p31 - p32), from 4 it is 1.
  const double mb = LossModel::mean_burst_length(m);
  const double q = 1 - m.p31 - m.p32;
  const double var_geo = q / ((1 - q) * (1 - q));
  EXPECT_NEAR(run.mean_burst, mb, kSigmas * std::sqrt((var_geo + mb * mb) / run.bursts));
}

std::vector<double> sample_delays(const DelayConfig& c, int n, uint64_t seed) {
  DelayModel model(c);
  Rng rng(seed);
  std::vector<double> out(n);
  for (auto& v : out) {
    v = static_cast<double>(model.sample(rng).count());
  }
  return out;
}

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) {
    s += x;
  }
  return s / static_cast<double>(v.size());
}

double sd_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) {
    s += (x - m) * (x - m);
  }
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

double fraction_below(const std::vector<double>& v, double x) {
  double c = 0;
  for (double y : v) {
    c += y < x;
  }
  return c / static_cast<double>(v.size());
}

double lag1_correlation(const std::vector<double>& v) {
  const double m = mean_of(v);
  double num = 0;
  double den = 0;
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    num += (v[i] - m) * (v[i + 1] - m);
  }
  for (double x : v) {
    den += (x - m) * (x - m);
  }
  return num / den;
}

constexpr double kMs = 1e6;

TEST(Delay, FixedDelayIsExact) {
  DelayConfig c{.delay = std::chrono::milliseconds(40)};
  const auto v = sample_delays(c, 1000, 1);
  for (double x : v) {
    ASSERT_EQ(x, 40 * kMs);
  }
}

TEST(Delay, UniformSpansDelayPlusMinusJitter) {
  DelayConfig c{.delay = std::chrono::milliseconds(50), .jitter = std::chrono::milliseconds(10)};
  const int n = 400'000;
  const auto v = sample_delays(c, n, 2);
  const double sd = 10 * kMs / std::sqrt(3.0);
  EXPECT_NEAR(mean_of(v), 50 * kMs, kSigmas * sd / std::sqrt(n));
  EXPECT_NEAR(fraction_below(v, 45 * kMs), 0.25, binomial_tolerance(0.25, n));
  for (double x : v) {
    ASSERT_GE(x, 40 * kMs);
    ASSERT_LE(x, 60 * kMs);
  }
}

TEST(Delay, NormalHasMeanAndStandardDeviation) {
  DelayConfig c{.delay = std::chrono::milliseconds(100),
                .jitter = std::chrono::milliseconds(10),
                .distribution = DelayDistribution::normal};
  const int n = 400'000;
  const auto v = sample_delays(c, n, 3);
  EXPECT_NEAR(mean_of(v), 100 * kMs, kSigmas * 10 * kMs / std::sqrt(n));
  // sd of the sample sd of a normal: sigma / sqrt(2(n-1)).
  EXPECT_NEAR(sd_of(v), 10 * kMs, kSigmas * 10 * kMs / std::sqrt(2.0 * (n - 1)));
  EXPECT_NEAR(fraction_below(v, 90 * kMs), 0.158655, binomial_tolerance(0.158655, n));
}

TEST(Delay, ParetoIsHeavyTailedWithTheConfiguredMean) {
  DelayConfig c{.delay = std::chrono::milliseconds(100),
                .jitter = std::chrono::milliseconds(10),
                .distribution = DelayDistribution::pareto};
  const int n = 400'000;
  const auto v = sample_delays(c, n, 4);
  // P(X < mean) for Pareto(alpha = 3) = 1 - 1.5^-3.
  const double below_mean = 1 - std::pow(1.5, -3.0);
  EXPECT_NEAR(fraction_below(v, 100 * kMs), below_mean, binomial_tolerance(below_mean, n));
  // Support starts at mean - 0.5/sqrt(0.75) sd.
  const double floor = 100 * kMs - 10 * kMs * 0.5 / std::sqrt(0.75);
  for (double x : v) {
    ASSERT_GE(x, floor - 1);
  }
}

TEST(Delay, CorrelationIsTheLag1CorrelationAndKeepsTheMarginal) {
  DelayConfig c{.delay = std::chrono::milliseconds(100),
                .jitter = std::chrono::milliseconds(10),
                .distribution = DelayDistribution::normal,
                .correlation = 0.5};
  const int n = 400'000;
  const auto v = sample_delays(c, n, 5);
  // Sample lag-1 correlation of an AR(1): sd about sqrt((1 - rho^2) / n).
  EXPECT_NEAR(lag1_correlation(v), 0.5, kSigmas * std::sqrt((1 - 0.25) / n));
  // The marginal is still N(100ms, 10ms): the mean's variance grows by (1+rho)/(1-rho).
  EXPECT_NEAR(mean_of(v), 100 * kMs, kSigmas * 10 * kMs * std::sqrt(3.0 / n));
  EXPECT_NEAR(sd_of(v), 10 * kMs, 0.02 * 10 * kMs);

  c.distribution = DelayDistribution::uniform;
  const auto u = sample_delays(c, n, 6);
  for (double x : u) {
    ASSERT_GE(x, 90 * kMs);
    ASSERT_LE(x, 110 * kMs);
  }
  EXPECT_NEAR(fraction_below(u, 95 * kMs), 0.25, binomial_tolerance(0.25, n) * std::sqrt(3.0));
  EXPECT_GT(lag1_correlation(u), 0.4);
}

TEST(Delay, NeverNegative) {
  DelayConfig c{.delay = std::chrono::milliseconds(1),
                .jitter = std::chrono::milliseconds(10),
                .distribution = DelayDistribution::normal};
  for (double x : sample_delays(c, 100'000, 7)) {
    ASSERT_GE(x, 0);
  }
}

TEST(Delay, FloorBoundsEveryDraw) {
  using std::chrono::milliseconds;
  const DelayConfig fixed{.delay = milliseconds(40)};
  EXPECT_EQ(DelayModel::floor(fixed), milliseconds(40));
  for (const DelayDistribution d : {DelayDistribution::uniform, DelayDistribution::normal,
                                    DelayDistribution::pareto, DelayDistribution::paretonormal}) {
    for (const double rho : {0.0, 0.5}) {
      const DelayConfig c{
          .delay = milliseconds(100), .jitter = milliseconds(10), .distribution = d, .correlation = rho};
      const double floor = static_cast<double>(DelayModel::floor(c).count());
      EXPECT_GT(floor, 0.0);
      EXPECT_LT(floor, 100 * kMs);
      for (double x : sample_delays(c, 200'000, 8)) {
        ASSERT_GE(x, floor) << static_cast<int>(d) << " rho " << rho;
      }
    }
  }
  // Hard bounds where the law has one; the normal's at -6 sd.
  const DelayConfig uniform{.delay = milliseconds(100), .jitter = milliseconds(10)};
  EXPECT_EQ(DelayModel::floor(uniform), milliseconds(90));
  const DelayConfig normal{.delay = milliseconds(100),
                           .jitter = milliseconds(10),
                           .distribution = DelayDistribution::normal};
  EXPECT_EQ(DelayModel::floor(normal), milliseconds(40));
  const DelayConfig wide{.delay = milliseconds(10),
                         .jitter = milliseconds(10),
                         .distribution = DelayDistribution::normal};
  EXPECT_EQ(DelayModel::floor(wide).count(), 0);
  // Reordered packets skip the delay altogether.
  DirectionConfig reordering;
  reordering.delay = uniform;
  EXPECT_EQ(soonest_departure(reordering), milliseconds(90));
  reordering.reorder = 0.01;
  EXPECT_EQ(soonest_departure(reordering).count(), 0);
}

TEST(Rate, SerialisesBackToBackPacketsAtTheRate) {
  Serialiser rate(10'000'000);
  for (int i = 1; i <= 100; ++i) {
    EXPECT_EQ(rate.time_for(1250), std::chrono::milliseconds(1));  // 1250 B at 10 Mbit/s
  }
  EXPECT_EQ(Serialiser{}.time_for(1500), Duration{0});  // no rate: no time
}

TEST(Rate, NoDriftFromRounding) {
  Serialiser rate(3'000'000);
  Duration total{0};
  for (int i = 0; i < 3000; ++i) {
    total += rate.time_for(125);  // 1000 bits = 333.33 us each
  }
  EXPECT_EQ(total, std::chrono::seconds(1));
}

TEST(Corrupt, FlipsExactlyOneBitAfterTheIpHeaderAndKeepsChecksumsValid) {
  PacketPool pool;
  Rng rng(11);
  int trials = 0;
  for (int version : {4, 6}) {
    for (uint8_t proto : {uint8_t{6}, uint8_t{17}, uint8_t{1}}) {
      const uint8_t p = version == 6 && proto == 1 ? 58 : proto;
      for (int i = 0; i < 300; ++i) {
        const auto original = testing::make_ip_packet(version, p, static_cast<size_t>(i % 50));
        Packet* pkt = pool.allocate(original.size());
        std::copy(original.begin(), original.end(), pkt->data());
        pkt->length = pkt->wire_length = static_cast<uint32_t>(original.size());
        const IpHeaders h = parse_ip(pkt->l3());
        const CorruptResult r = corrupt_packet(*pkt, h, rng);
        ASSERT_TRUE(r.flipped);
        ASSERT_TRUE(testing::checksums_valid(pkt->l3())) << "v" << version << " proto " << int(p);
        const size_t csum_at = h.l4_offset + static_cast<size_t>(l4_checksum_offset(h.protocol));
        int differing_bits = 0;
        for (size_t b = 0; b < original.size(); ++b) {
          if (b == csum_at || b == csum_at + 1) {
            continue;
          }
          const auto x = std::to_integer<unsigned>(original[b] ^ pkt->data()[b]);
          differing_bits += std::popcount(x);
          if (x != 0) {
            EXPECT_GE(b, h.l4_offset) << "the IP header must stay intact";
          }
        }
        EXPECT_EQ(differing_bits, 1);
        pool.release(pkt);
        ++trials;
      }
    }
  }
  EXPECT_EQ(trials, 1800);
}

TEST(Corrupt, PositionIsUniformOverTheBitsAfterTheIpHeader) {
  PacketPool pool;
  Rng rng(12);
  const auto original = testing::make_ip_packet(4, 17, 92);  // 100 bytes after the IP header
  const int n = 200'000;
  int in_payload_first_half = 0;
  for (int i = 0; i < n; ++i) {
    Packet* pkt = pool.allocate(original.size());
    std::copy(original.begin(), original.end(), pkt->data());
    pkt->length = pkt->wire_length = static_cast<uint32_t>(original.size());
    const auto r = corrupt_packet(*pkt, parse_ip(pkt->l3()), rng);
    // 800 bits after the header minus 16 checksum bits: candidate bits [160, 960) \ [208, 224).
    in_payload_first_half += (r.bit >= 160 && r.bit < 160 + 392);
    pool.release(pkt);
  }
  const double p = (392.0 - 16.0) / 784.0;
  EXPECT_NEAR(static_cast<double>(in_payload_first_half) / n, p, binomial_tolerance(p, n));
}

}  // namespace
}  // namespace badlink
