// The statistics `badlink verify` judges by: the expected delay law, the loss chain's variance,
// each figure's tolerance and the pass/fail decision, and what probe arrivals are taken to
// mean. No network: samples are drawn from the impairment models with fixed seeds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <vector>

#include "core/rng.hh"
#include "impairments/delay.hh"
#include "impairments/loss.hh"
#include "probe/probe_packet.hh"
#include "probe/probe_stats.hh"
#include "probe/verify_model.hh"
#include "probe/verify_result.hh"

namespace badlink::probe {
namespace {

using std::chrono::milliseconds;

DirectionConfig delayed(double delay_ms, double jitter_ms, DelayDistribution d, double rho = 0.0) {
  DirectionConfig c;
  c.delay.delay = Duration{static_cast<int64_t>(delay_ms * 1e6)};
  c.delay.jitter = Duration{static_cast<int64_t>(jitter_ms * 1e6)};
  c.delay.distribution = d;
  c.delay.correlation = rho;
  return c;
}

// A copy: the figures are often a temporary.
Figure find(const std::vector<Figure>& figures, const std::string& name) {
  const auto it =
      std::find_if(figures.begin(), figures.end(), [&](const Figure& f) { return f.name == name; });
  if (it == figures.end()) {
    ADD_FAILURE() << "no figure " << name;
    return {};
  }
  return *it;
}

// ---- the delay law ----------------------------------------------------------------------------

TEST(DelayLaw, NormalWithoutInterferenceIsTheConfiguredDistribution) {
  const DelayLaw law(delayed(25, 4, DelayDistribution::normal), std::chrono::hours(1));
  // 2^20 draws: standard errors of 0.004 ms on the mean, below 0.01 ms on the quantiles.
  EXPECT_NEAR(law.mean() / 1e6, 25.0, 0.02);
  EXPECT_NEAR(law.sd() / 1e6, 4.0, 0.02);
  EXPECT_NEAR(law.quantile(0.5) / 1e6, 25.0, 0.03);
  EXPECT_NEAR(law.quantile(0.99) / 1e6, 25.0 + 2.3263 * 4.0, 0.06);
  EXPECT_NEAR(law.kurtosis(), 3.0, 0.05);
  EXPECT_EQ(law.early_fraction(), 0.0);  // keep_order
}

TEST(DelayLaw, UniformJitterIsTheHalfWidth) {
  const DelayLaw law(delayed(30, 5, DelayDistribution::uniform), std::chrono::hours(1));
  EXPECT_NEAR(law.sd() / 1e6, 5.0 / std::sqrt(3.0), 0.01);
  EXPECT_NEAR(law.quantile(0.0) / 1e6, 25.0, 0.01);
  EXPECT_NEAR(law.quantile(1.0) / 1e6, 35.0, 0.01);
  EXPECT_NEAR(law.kurtosis(), 1.8, 0.02);
}

TEST(DelayLaw, ClampsAtZeroAsTheEngineDoes) {
  // E[max(0, N(mu, s^2))] = mu Phi(mu/s) + s phi(mu/s).
  const double mu = 1.0;
  const double s = 3.0;
  const double z = mu / s;
  const double phi = std::exp(-z * z / 2) / std::sqrt(2 * M_PI);
  const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
  const DelayLaw law(delayed(mu, s, DelayDistribution::normal), std::chrono::hours(1));
  EXPECT_NEAR(law.mean() / 1e6, mu * cdf + s * phi, 0.02);
  EXPECT_EQ(law.quantile(0.0), 0.0);
}

TEST(DelayLaw, KeepOrderShiftsDelaysUpWhenPacketsComeCloserThanTheJitter) {
  // README: at 100,000 packets/s, 20 ms +- 5 ms uniform delivers p50 24.6 ms, p99 25.0 ms.
  const DelayLaw law(delayed(20, 5, DelayDistribution::uniform), std::chrono::microseconds(10));
  EXPECT_NEAR(law.quantile(0.5) / 1e6, 24.6, 0.1);
  EXPECT_NEAR(law.quantile(0.99) / 1e6, 25.0, 0.05);
  // Without keep_order the same packets reorder instead.
  DirectionConfig unordered = delayed(20, 5, DelayDistribution::uniform);
  unordered.delay.keep_order = false;
  const DelayLaw raw(unordered, std::chrono::microseconds(10), size_t{1} << 17);
  EXPECT_NEAR(raw.quantile(0.5) / 1e6, 20.0, 0.1);
  EXPECT_GT(raw.early_fraction(), 0.5);
}

TEST(DelayLaw, ReorderedPacketsSkipTheDelayAndOvertake) {
  DirectionConfig c = delayed(30, 0, DelayDistribution::uniform);
  c.reorder = 0.02;
  const DelayLaw every(c, std::chrono::microseconds(500));
  EXPECT_NEAR(every.early_fraction(), 0.02, 0.0008);  // 4.5 sigma of 2^20 draws: 0.0006
  EXPECT_NEAR(every.quantile(0.01), 0.0, 1.0);
  c.reorder_gap = 3;  // netem's gap: a renewal of 2 + 1/r packets
  const DelayLaw gapped(c, std::chrono::microseconds(500));
  EXPECT_NEAR(gapped.early_fraction(), 0.02 / (1 + 2 * 0.02), 0.0006);
  // Spaced wider than the delay, nothing is left to overtake.
  const DelayLaw sparse(c, milliseconds(40), size_t{1} << 16);
  EXPECT_EQ(sparse.early_fraction(), 0.0);
}

TEST(DelaySpread, CoversTheBulkOfTheLaw) {
  const Duration spread = delay_spread(delayed(25, 4, DelayDistribution::normal));
  EXPECT_NEAR(static_cast<double>(spread.count()) / 1e6, 2 * 3.0902 * 4.0, 0.3);
  EXPECT_EQ(delay_spread(delayed(25, 0, DelayDistribution::normal)).count(), 0);
}

// ---- the loss chain ---------------------------------------------------------------------------

TEST(LossVariance, BernoulliIsBinomial) {
  EXPECT_DOUBLE_EQ(loss_asymptotic_variance(BernoulliLoss{0.01}), 0.01 * 0.99);
  EXPECT_DOUBLE_EQ(loss_asymptotic_variance(std::monostate{}), 0.0);
}

TEST(LossVariance, GilbertElliottMatchesTheClosedForm) {
  const GilbertElliottLoss g{0.01, 0.3, 0.2, 0.999};
  const double bad = g.p / (g.p + g.r);
  const double lg = 1 - g.k;
  const double lb = 1 - g.h;
  const double loss = (1 - bad) * lg + bad * lb;
  const double lambda = 1 - g.p - g.r;
  const double expected =
      loss * (1 - loss) + 2 * (lb - lg) * (lb - lg) * bad * (1 - bad) * lambda / (1 - lambda);
  EXPECT_NEAR(loss_asymptotic_variance(g), expected, 1e-9);
  EXPECT_GT(loss_asymptotic_variance(g), loss * (1 - loss));  // bursts widen the tolerance
}

// The variance of batch loss counts, drawn with the model itself, against sqrt(n * variance).
void expect_batch_variance(const LossConfig& config, uint64_t seed) {
  LossModel model(config);
  Rng rng(seed);
  constexpr int kBatches = 2000;
  constexpr int kBatch = 5000;
  std::vector<double> counts;
  for (int b = 0; b < kBatches; ++b) {
    int lost = 0;
    for (int i = 0; i < kBatch; ++i) {
      lost += model.lose(rng) ? 1 : 0;
    }
    counts.push_back(lost);
  }
  const double mean = std::accumulate(counts.begin(), counts.end(), 0.0) / kBatches;
  double var = 0.0;
  for (const double c : counts) {
    var += (c - mean) * (c - mean);
  }
  var /= kBatches - 1;
  const double predicted = loss_asymptotic_variance(config) * kBatch;
  EXPECT_NEAR(mean / kBatch, LossModel::stationary_loss(config),
              4.5 * std::sqrt(predicted) / kBatch / std::sqrt(kBatches));
  // A sample variance of B batches has relative standard error sqrt(2 / (B - 1)).
  EXPECT_NEAR(var / predicted, 1.0, 4.5 * std::sqrt(2.0 / (kBatches - 1)) + 0.02);
}

TEST(LossVariance, PredictsTheSpreadOfLossCounts) {
  expect_batch_variance(BernoulliLoss{0.02}, 1);
  expect_batch_variance(GilbertElliottLoss{0.002, 0.2, 0.5, 0.9999}, 2);
  expect_batch_variance(GilbertElliottLoss{0.01, 0.3, 0.2, 0.999}, 3);
  expect_batch_variance(MarkovLoss{0.005, 0.5, 0.2, 0.3, 0.002}, 4);
}

// ---- tolerances and decisions -----------------------------------------------------------------

TEST(QuantileBand, IsFourAndAHalfBinomialSigmas) {
  const QuantileLevels b = quantile_band(0.5, 10000);
  EXPECT_NEAR(b.low, 0.5 - 4.5 * 0.005, 1e-12);
  EXPECT_NEAR(b.high, 0.5 + 4.5 * 0.005, 1e-12);
  EXPECT_EQ(quantile_band(0.99, 100).high, 1.0);
  EXPECT_EQ(effective_samples(300, 0.5), 100);
  EXPECT_EQ(effective_samples(300, 0.0), 300);
}

// Draws what verify's sparse stream would see from the engine's own models: n delays at the
// plan's spacing (keep_order applied), plus a fixed offset.
DelaySummary draw_sample(const DirectionConfig& c, Duration spacing, size_t n, uint64_t seed,
                         double offset_ms) {
  Rng rng(seed);
  DelayModel model(c.delay);
  std::vector<double> values;
  double last = -1e300;
  for (size_t i = 0; i < n; ++i) {
    last -= static_cast<double>(spacing.count());
    double d = static_cast<double>(model.sample(rng).count());
    if (c.delay.keep_order) {
      d = std::max(d, last);
    }
    last = std::max(last, d);
    values.push_back(d / 1e6 + offset_ms);
  }
  return describe_delays(values);
}

TEST(DelayFigures, AnHonestSamplePassesAndAShiftedOneFails) {
  const DirectionConfig c = delayed(25, 4, DelayDistribution::normal, 0.25);
  const PlanBudget budget;
  const DirectionPlan plan = plan_direction(c, budget);
  const DelayLaw law(c, plan.sparse_spacing);
  const BasePath base{0.02, 0.05, 0.02, 0.01};
  const HostAllowance allowance;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const DelaySummary honest = draw_sample(c, plan.sparse_spacing, plan.sparse_count, seed, 0.02);
    for (const Figure& f : delay_figures(c, law, 0.0, honest, base, allowance)) {
      EXPECT_TRUE(f.ok()) << "seed " << seed << ": " << f.name << " " << f.measured << " not in ["
                          << f.low << ", " << f.high << "]";
    }
    // 3 ms more delay than configured: the median and the mean notice.
    const DelaySummary slow = draw_sample(c, plan.sparse_spacing, plan.sparse_count, seed, 3.0);
    const std::vector<Figure> figures = delay_figures(c, law, 0.0, slow, base, allowance);
    EXPECT_FALSE(find(figures, "delay p50").ok()) << "seed " << seed;
    EXPECT_FALSE(find(figures, "delay mean").ok()) << "seed " << seed;
  }
}

TEST(DelayFigures, ConstantDelayMayNeverBeEarly) {
  const DirectionConfig c = delayed(40, 0, DelayDistribution::uniform);
  const DelayLaw law(c, milliseconds(2));
  DelaySummary m;
  m.n = 5000;
  m.p25 = m.p50 = m.p75 = m.p99 = m.mean = 39.9;
  const std::vector<Figure> early = delay_figures(c, law, 0.0, m, {}, {});
  EXPECT_FALSE(find(early, "delay p50").ok());
  EXPECT_EQ(find(early, "delay p50").low, 40.0);
  m.p25 = m.p50 = m.p75 = m.mean = 40.3;
  m.p99 = 41.5;
  m.stddev = 0.1;
  for (const Figure& f : delay_figures(c, law, 0.0, m, {}, {})) {
    EXPECT_TRUE(f.ok()) << f.name;
  }
  m.stddev = 0.5;  // jitter where none is configured
  EXPECT_FALSE(find(delay_figures(c, law, 0.0, m, {}, {}), "jitter (std dev)").ok());
}

TEST(DelayFigures, HeavyTailsAreJudgedByTheInterquartileRange) {
  const DirectionConfig c = delayed(3, 3, DelayDistribution::paretonormal, 0.3);
  const DelayLaw law(c, milliseconds(30));
  const DelaySummary m = draw_sample(c, milliseconds(30), 500, 7, 0.0);
  const std::vector<Figure> figures = delay_figures(c, law, 0.0, m, {}, {});
  EXPECT_TRUE(find(figures, "jitter (IQR)").ok());
  EXPECT_TRUE(find(figures, "delay p50").ok());
}

// The sparse stream of dsl's outbound direction as CI saw it once: constant 6.88 ms, packets
// 7.5 ms apart, and one 40 ms stall of the host that held everything sent while it lasted.
std::vector<double> stalled_stream(double stall_ms, size_t at, double spacing_ms) {
  std::vector<double> delays;
  Rng rng(11);
  for (size_t i = 0; i < 2000; ++i) {
    delays.push_back(6.88 + 0.02 * static_cast<double>(rng.below(100)) / 100.0);
  }
  // Packet `at` is sent as the stall begins; every packet sent before it ends leaves with it.
  for (size_t i = at; static_cast<double>(i - at) * spacing_ms < stall_ms; ++i) {
    delays[i] = std::max(delays[i], stall_ms - static_cast<double>(i - at) * spacing_ms + 6.88);
  }
  return delays;
}

TEST(Stalls, AHostStallIsJudgedByTheTimeItHeldThePathNotAsJitter) {
  const DirectionConfig c = delayed(5, 0, DelayDistribution::uniform);
  const DelayLaw law(c, milliseconds(7));
  const double serial = 1.875;
  const BasePath base{0.01, 0.025, 0.01, 0.005};
  const HostAllowance allowance;
  const std::vector<double> delays = stalled_stream(40, 1000, 7.5);

  // Counted as delays, one stall breaks the jitter figure (as it did in CI).
  const std::vector<Figure> naive =
      delay_figures(c, law, serial, describe_delays(delays), base, allowance);
  EXPECT_FALSE(find(naive, "jitter (std dev)").ok());

  const double limit = stall_limit_ms(law, serial, base, allowance);
  EXPECT_NEAR(limit, 5 + 1.875 + 0.025 + 2.0, 1e-9);
  const Stalls stalls = find_stalls(delays, 7.5, limit, 5 + serial);
  EXPECT_EQ(stalls.runs, 1U);
  EXPECT_EQ(stalls.packets, 6U);  // 46.9, 39.4, 31.9, 24.4, 16.9 and 9.4 ms
  EXPECT_EQ(stalls.kept_ms.size(), 2000U - 6U);
  EXPECT_NEAR(stalls.held_ms, 40.0, 0.05);
  for (const Figure& f :
       delay_figures(c, law, serial, describe_delays(stalls.kept_ms), base, allowance)) {
    EXPECT_TRUE(f.ok()) << f.name << " " << f.measured;
  }
  const Figure f = stall_figure(stalls, limit, allowance);
  EXPECT_TRUE(f.ok());
  EXPECT_NE(f.note.find("6 packets in 1 run later than 8.90 ms"), std::string::npos) << f.note;

  // Stalls longer than the allowance in all fail, and so do stalls that add up to more.
  EXPECT_FALSE(stall_figure(find_stalls(stalled_stream(150, 100, 7.5), 7.5, limit, 6.875), limit,
                            allowance)
                   .ok());
  std::vector<double> three = stalled_stream(40, 100, 7.5);
  const std::vector<double> more = stalled_stream(40, 900, 7.5);
  const std::vector<double> again = stalled_stream(40, 1700, 7.5);
  for (size_t i = 0; i < three.size(); ++i) {
    three[i] = std::max({three[i], more[i], again[i]});
  }
  const Stalls s3 = find_stalls(three, 7.5, limit, 6.875);
  EXPECT_EQ(s3.runs, 3U);
  EXPECT_FALSE(stall_figure(s3, limit, allowance).ok());
}

TEST(Stalls, LatePacketsThatAreNoStallStillFail) {
  const DirectionConfig c = delayed(5, 0, DelayDistribution::uniform);
  const DelayLaw law(c, milliseconds(7));
  const HostAllowance allowance;
  const double limit = stall_limit_ms(law, 0.0, {}, allowance);
  // One packet in a hundred 30 ms late, each on its own: 20 runs of 30 ms.
  std::vector<double> scattered(2000, 5.0);
  for (size_t i = 50; i < scattered.size(); i += 100) {
    scattered[i] = 35.0;
  }
  const Stalls s = find_stalls(scattered, 7.5, limit, 5.0);
  EXPECT_EQ(s.runs, 20U);
  EXPECT_NEAR(s.held_ms, 600.0, 1e-6);
  EXPECT_FALSE(stall_figure(s, limit, allowance).ok());
  // Every packet 3.5 ms late: one run as long as the stream, nothing left to judge as delay.
  const std::vector<double> slow(2000, 8.5);
  const Stalls all = find_stalls(slow, 7.5, limit, 5.0);
  EXPECT_EQ(all.kept_ms.size(), 0U);
  EXPECT_NEAR(all.held_ms, 1999 * 7.5 + 3.5, 1e-6);
  EXPECT_FALSE(stall_figure(all, limit, allowance).ok());
  // A lost packet (NaN) inside a stall neither ends the run nor counts.
  std::vector<double> lossy = stalled_stream(40, 1000, 7.5);
  lossy[1002] = std::numeric_limits<double>::quiet_NaN();
  const Stalls l = find_stalls(lossy, 7.5, limit + 1.875, 6.875);
  EXPECT_EQ(l.runs, 1U);
  EXPECT_EQ(l.packets, 5U);
  EXPECT_EQ(l.kept_ms.size(), 2000U - 6U);
}

TEST(CountFigures, LossToleranceIsBinomialOrTheChainsVariance) {
  DirectionConfig c;
  c.loss = BernoulliLoss{0.002};
  CountSample s;
  s.sent = 20000;
  // 4.5 sigma of Binomial(20000, 0.002): 28.4 packets either side of 40.
  s.unique = s.sent - 40;
  EXPECT_TRUE(find(count_figures(c, s), "loss").ok());
  s.unique = s.sent - 80;
  EXPECT_FALSE(find(count_figures(c, s), "loss").ok());
  s.unique = s.sent - 5;
  EXPECT_FALSE(find(count_figures(c, s), "loss").ok());
  const Figure f = find(count_figures(c, s), "loss");
  EXPECT_NEAR(f.high - f.configured, 100 * (4.5 * std::sqrt(0.002 * 0.998 / 20000) + 1 / 20000.0),
              1e-9);

  // Loss in bursts is allowed more spread than independent loss of the same long-run rate.
  DirectionConfig bursty;
  bursty.loss = GilbertElliottLoss{0.002, 0.2, 0.5, 0.9999};
  const double rate = LossModel::stationary_loss(bursty.loss);
  const Figure b = find(count_figures(bursty, s), "loss");
  EXPECT_NEAR(b.configured, 100 * rate, 1e-9);
  EXPECT_GT(b.high - b.configured, 1.5 * 100 * 4.5 * std::sqrt(rate * (1 - rate) / 20000));
}

TEST(CountFigures, NothingConfiguredAllowsOnePacket) {
  const DirectionConfig c;
  CountSample s;
  s.sent = 10000;
  s.unique = 10000;
  for (const Figure& f : count_figures(c, s)) {
    EXPECT_TRUE(f.ok()) << f.name;
  }
  s.unique = 9999;
  EXPECT_TRUE(find(count_figures(c, s), "loss").ok());
  s.unique = 9998;
  EXPECT_FALSE(find(count_figures(c, s), "loss").ok());
  s.unique = 10000;
  s.duplicates = 2;
  EXPECT_FALSE(find(count_figures(c, s), "duplicates").ok());
  s.duplicates = 0;
  s.damaged = 2;
  EXPECT_FALSE(find(count_figures(c, s), "corruption").ok());
}

TEST(CountFigures, DuplicatesAndCorruptionCountWhatArrivesIntact) {
  DirectionConfig c;
  c.duplicate = 0.01;
  c.corrupt = 0.005;
  CountSample s;
  s.sent = 20000;
  s.payload = 32;
  const std::vector<Figure> figures = count_figures(c, s);
  // A corrupted copy is not intact: lost (UDP header hit) or damaged (payload hit).
  EXPECT_NEAR(find(figures, "loss").configured, 100 * (0.99 * 0.005 + 0.01 * 0.005 * 0.005), 1e-9);
  EXPECT_NEAR(find(figures, "duplicates").configured, 100 * 0.01 * 0.995 * 0.995, 1e-9);
  EXPECT_NEAR(find(figures, "corruption").configured, 100 * 1.01 * 0.005 * 256 / 304, 1e-9);
}

TEST(ReorderFigure, UnmeasurableWhenReorderedPacketsCannotOvertake) {
  DirectionConfig c = delayed(10, 0, DelayDistribution::uniform);
  c.reorder = 0.05;
  const DelayLaw sparse(c, milliseconds(20), size_t{1} << 16);
  const Figure f = reorder_figure(c, sparse, 1000, 0);
  EXPECT_FALSE(f.measurable);
  EXPECT_TRUE(f.ok());
  const DelayLaw dense(c, std::chrono::microseconds(500), size_t{1} << 18);
  const Figure g = reorder_figure(c, dense, 20000, 1000);
  EXPECT_TRUE(g.measurable);
  EXPECT_TRUE(g.ok());
  EXPECT_FALSE(reorder_figure(c, dense, 20000, 1300).ok());
}

TEST(ThroughputFigure, BandAroundTheRate) {
  DirectionConfig c;
  c.rate.bits_per_second = 8'000'000;
  const HostAllowance allowance;
  EXPECT_TRUE(throughput_figure(c, 7.96e6, 3.0, 0.0, allowance).ok());
  EXPECT_TRUE(throughput_figure(c, 7.7e6, 3.0, 0.0, allowance).ok());
  EXPECT_FALSE(throughput_figure(c, 7.5e6, 3.0, 0.0, allowance).ok());
  EXPECT_FALSE(throughput_figure(c, 8.3e6, 3.0, 0.0, allowance).ok());
  // A wider delay spread moves the first and last arrivals: more room.
  EXPECT_TRUE(throughput_figure(c, 7.5e6, 3.0, 30.0, allowance).ok());
  EXPECT_EQ(throughput_figure(c, 8e6, 3.0, 0.0, allowance).unit, "Mbit/s");
  c.rate.bits_per_second = 256'000;
  EXPECT_EQ(throughput_figure(c, 256e3, 3.0, 0.0, allowance).unit, "kbit/s");
}

TEST(Plan, SpacesDelayProbesBeyondTheSpreadAndStaysBelowTheRate) {
  DirectionConfig c = delayed(25, 4, DelayDistribution::normal, 0.25);
  c.rate.bits_per_second = 256'000;
  const PlanBudget budget;
  const DirectionPlan p = plan_direction(c, budget);
  EXPECT_GE(p.sparse_spacing, delay_spread(c));
  EXPECT_LE(p.dense_pps * (p.dense_payload + 28) * 8, 0.4 * 256'000 + 1);
  EXPECT_TRUE(p.rate);
  EXPECT_GT(p.rate_pps * (p.rate_payload + 28) * 8, 1.2 * 256'000);
  const double seconds =
      static_cast<double>(p.sparse_count) * static_cast<double>(p.sparse_spacing.count()) / 1e9 +
      static_cast<double>(p.dense_count) / p.dense_pps;
  EXPECT_LE(seconds, 26.0);
  // The throughput stream delivers a few hundred packets in its window.
  EXPECT_GE(256'000.0 * 3 / 8 / (p.rate_payload + 28), 250);
}

// ---- probe arrivals ---------------------------------------------------------------------------

ReceiveReport arrivals(const std::vector<uint64_t>& seqs) {
  ReceiveReport r;
  int64_t t = 1'000'000'000;
  for (const uint64_t s : seqs) {
    t += 1'000'000;
    r.arrivals.push_back(Arrival{s, t - 10'000'000, t, 100, false});
  }
  return r;
}

TEST(ProbeSummary, CountsLossDuplicatesAndBothKindsOfReordering) {
  // 0 1 3 2 4 4 6 5 7 8 ; 9 lost. 3 overtook 2, 6 overtook 5: early; 2 and 5 are late.
  const ProbeSummary s = summarize(arrivals({0, 1, 3, 2, 4, 4, 6, 5, 7, 8}), 10, 28);
  EXPECT_EQ(s.received, 10u);
  EXPECT_EQ(s.unique, 9u);
  EXPECT_EQ(s.lost, 1u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.late, 2u);
  EXPECT_EQ(s.early, 2u);
  EXPECT_NEAR(s.delay.p50, 10.0, 1e-9);
  // One packet jumping far ahead: one early, many late.
  const ProbeSummary jump = summarize(arrivals({5, 0, 1, 2, 3, 4}), 6, 28);
  EXPECT_EQ(jump.early, 1u);
  EXPECT_EQ(jump.late, 5u);
  // 9 datagrams of 128 IP bytes after the first, over 9 ms.
  EXPECT_NEAR(s.throughput_bps, 9 * 128 * 8 / 0.009, 1e-3);
}

TEST(ProbePacket, AFlippedBitAnywhereIsNoticed) {
  ProbeHeader h;
  h.stream = 7;
  h.length = 32;
  h.seq = 12345;
  h.sent_ns = 1'700'000'000'123'456'789;
  std::vector<std::byte> packet(32);
  fill_probe(packet, h);
  ProbeHeader out;
  EXPECT_EQ(check_probe(packet, 7, out), ProbeCheck::ok);
  EXPECT_EQ(out.seq, 12345u);
  EXPECT_EQ(check_probe(packet, 8, out), ProbeCheck::foreign);
  for (size_t bit = 0; bit < packet.size() * 8; ++bit) {
    std::vector<std::byte> hit = packet;
    hit[bit / 8] ^= static_cast<std::byte>(1U << (bit % 8));
    EXPECT_NE(check_probe(hit, 7, out), ProbeCheck::ok) << "bit " << bit;
  }
  std::vector<std::byte> trimmed(packet.begin(), packet.end() - 4);
  EXPECT_EQ(check_probe(trimmed, 7, out), ProbeCheck::damaged);
}

// --json: every key in the order the text report gives them, counts as exact integers, figures
// to six significant digits, and a figure nothing measured as null.
TEST(VerifyJson, KeepsKeysCountsAndNulls) {
  VerifyResult result;
  result.profile = "lte \"busy\"";
  result.source = "profiles/lte.toml";
  result.seed = 18446744073709551615ULL;
  DirectionResult& d = result.directions.emplace_back();
  d.direction = Direction::inbound;
  d.sparse = {200, 75.0, 199};
  d.dense = {5000, 1234.56789, 4990, 3, 4};
  d.rate = {3000, 1200, 2500.0, 2980};
  d.base_p50_ms = 0.0451234567;
  d.base_p99_ms = 0.09;
  Figure delay{"delay p50", "ms", 40.0, 40.1234567, 39.5, 40.5, true, ""};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Figure nothing{"loss", "%", 1.0, nan, 0.5, 1.5, false, "nothing arrived"};
  Figure missed{"rate", "Mbit/s", 2.0, 1.0, 1.9, 2.1, true, ""};
  d.figures = {delay, nothing, missed};

  const nlohmann::ordered_json j = verify_json(result);
  const auto back = nlohmann::ordered_json::parse(j.dump(2));
  EXPECT_EQ(back["profile"], "lte \"busy\"");
  EXPECT_EQ(back["source"], "profiles/lte.toml");
  EXPECT_EQ(back["seed"].get<uint64_t>(), 18446744073709551615ULL);
  EXPECT_EQ(back["ok"], false);
  ASSERT_EQ(back["directions"].size(), 1U);
  const auto& in = back["directions"]["inbound"];
  std::vector<std::string> keys;
  for (const auto& [key, value] : in.items()) {
    keys.push_back(key);
  }
  EXPECT_EQ(keys,
            (std::vector<std::string>{"sparse", "dense", "rate", "base_delay_ms", "figures"}));
  EXPECT_EQ(in["sparse"],
            nlohmann::ordered_json::parse(R"({"sent": 200, "spacing_ms": 75.0, "received": 199})"));
  EXPECT_EQ(in["dense"], nlohmann::ordered_json::parse(
                             R"({"sent": 5000, "pps": 1234.57, "received": 4990, "early": 3,
                                 "late": 4})"));
  EXPECT_EQ(in["rate"], nlohmann::ordered_json::parse(
                            R"({"sent": 3000, "payload": 1200, "achieved_pps": 2500.0,
                                "received": 2980})"));
  EXPECT_EQ(in["base_delay_ms"]["p50"], 0.0451235);
  ASSERT_EQ(in["figures"].size(), 3U);
  EXPECT_EQ(in["figures"][0], nlohmann::ordered_json::parse(
                                  R"({"name": "delay p50", "unit": "ms", "configured": 40.0,
                                      "measured": 40.1235, "low": 39.5, "high": 40.5,
                                      "measurable": true, "ok": true, "note": ""})"));
  EXPECT_TRUE(in["figures"][1]["measured"].is_null());
  EXPECT_EQ(in["figures"][1]["ok"], true) << "not measurable: it does not count";
  EXPECT_EQ(in["figures"][2]["ok"], false);

  result.directions.clear();
  EXPECT_EQ(verify_json(result)["directions"], nlohmann::ordered_json::object());
}

}  // namespace
}  // namespace badlink::probe
