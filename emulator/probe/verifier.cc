// verify(): the plan per direction, the bare path's check, the three measuring phases, and the
// judging of each impaired direction.
#include "probe/verifier.hh"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

#include "impairments/loss.hh"
#include "probe/badlink_run.hh"
#include "probe/probe_stream.hh"
#include "probe/testbed.hh"
#include "probe/verify_report.hh"
#include "probe/work_dir.hh"

namespace badlink::probe {

namespace {

// Stream ids (and ports, from kBasePort): the kind's, plus the direction's index.
enum class StreamKind : uint16_t { base = 0, sparse = 10, dense = 20, rate = 30 };

uint16_t stream_id(StreamKind kind, Direction d) {
  return static_cast<uint16_t>(static_cast<uint16_t>(kind) + index_of(d));
}

struct DirectionRun {
  Direction direction = Direction::outbound;
  const DirectionConfig* config = nullptr;
  DirectionPlan plan;
  StreamRoute route;
  ProbeStream base, sparse, dense, rate;
};

using Runs = std::vector<std::unique_ptr<DirectionRun>>;

uint64_t draw_seed() {
  std::random_device device;
  return ((uint64_t{device()} << 32) | device()) & 0xffffffffffffULL;
}

Runs plan_runs(const Profile& expected, const Testbed& testbed, const PlanBudget& budget) {
  Runs runs;
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    auto run = std::make_unique<DirectionRun>();
    run->direction = d;
    run->config = &expected.single_link().direction(d);
    if (d == Direction::outbound) {
      run->route = {testbed.client(), testbed.server(), Testbed::kServerAddress};
    } else {
      run->route = {testbed.server(), testbed.client(), Testbed::kClientAddress};
    }
    run->plan = plan_direction(*run->config, budget);
    runs.push_back(std::move(run));
  }
  return runs;
}

// A sanity check of the bare path, and its own delay (the base every delay figure allows).
void check_base_path(const Runs& runs, Interrupt& interrupt) {
  std::vector<ProbeStream*> streams;
  for (const auto& r : runs) {
    r->base.plan = plan_stream(r->route, stream_id(StreamKind::base, r->direction),
                               {300, 300, 32, std::chrono::milliseconds(500)});
    streams.push_back(&r->base);
  }
  run_streams(streams, interrupt);
  for (const auto& r : runs) {
    const ProbeSummary b = r->base.summary();
    if (b.unique < b.expected * 99 / 100 || b.delay.p50 > 5.0) {
      throw std::runtime_error(fmt::format(
          "the testbed's own path is not clean before badlink starts ({}: {} of {} arrived, "
          "delay p50 {:.2f} ms); is the host overloaded?",
          to_string(r->direction), b.unique, b.expected, b.delay.p50));
    }
  }
}

void write_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  if (!out) {
    throw std::runtime_error("cannot write " + file.string());
  }
}

// Delay, then loss, duplicates and reordering, then throughput.
void measure(const std::vector<DirectionRun*>& impaired, Interrupt& interrupt,
             const Progress& progress) {
  // Delay: few packets, far apart. Both directions at once: they are independent pipelines.
  std::vector<ProbeStream*> streams;
  for (DirectionRun* r : impaired) {
    const DirectionPlan& p = r->plan;
    r->sparse.plan =
        plan_stream(r->route, stream_id(StreamKind::sparse, r->direction),
                    {p.sparse_count, 1e9 / static_cast<double>(p.sparse_spacing.count()),
                     p.sparse_payload, p.drain});
    streams.push_back(&r->sparse);
  }
  progress("measuring delay ...\n");
  run_streams(streams, interrupt);
  // Loss, duplicates, reordering: many packets, well below the rate.
  streams.clear();
  for (DirectionRun* r : impaired) {
    const DirectionPlan& p = r->plan;
    r->dense.plan = plan_stream(r->route, stream_id(StreamKind::dense, r->direction),
                                {p.dense_count, p.dense_pps, p.dense_payload, p.drain});
    streams.push_back(&r->dense);
  }
  progress("measuring loss, duplicates and reordering ...\n");
  run_streams(streams, interrupt);
  // Throughput: more than the rate, one direction at a time (they share the host's CPUs).
  for (DirectionRun* r : impaired) {
    const DirectionPlan& p = r->plan;
    if (!p.rate) {
      continue;
    }
    r->rate.plan = plan_stream(r->route, stream_id(StreamKind::rate, r->direction),
                               {p.rate_count, p.rate_pps, p.rate_payload, p.drain});
    progress(fmt::format("measuring {} throughput ...\n", to_string(r->direction)));
    ProbeStream* const one[] = {&r->rate};
    run_streams(one, interrupt);
  }
}

// Delay p50, mean, p99 and jitter of the delay stream, with runs of packets a stall held judged
// by how long they held the path, not as delays.
std::vector<Figure> delay_and_stall_figures(const DirectionRun& r, const DelayLaw& sparse_law,
                                            const BasePath& base_path,
                                            const HostAllowance& allowance) {
  const DirectionConfig& c = *r.config;
  const DirectionPlan& p = r.plan;
  const ProbeSummary sparse = r.sparse.summary();
  const double serial = serialization_ms(c, p.sparse_payload + kUdpIpv4Overhead);
  const double stall_limit = stall_limit_ms(sparse_law, serial, base_path, allowance);
  const Stalls stalls =
      find_stalls(sparse.delay_by_seq_ms, static_cast<double>(p.sparse_spacing.count()) / 1e6,
                  stall_limit, sparse_law.quantile(0.5) / 1e6 + serial);
  std::vector<Figure> figures =
      delay_figures(c, sparse_law, serial, describe_delays(stalls.kept_ms), base_path, allowance);
  figures.push_back(stall_figure(stalls, stall_limit, allowance));
  return figures;
}

// On the delay stream when jitter without keep_order reorders the loss stream itself.
Figure reordering(const DirectionRun& r, const DelayLaw& sparse_law) {
  const DirectionConfig& c = *r.config;
  const DirectionPlan& p = r.plan;
  if (p.reorder_on_sparse) {
    const ProbeSummary sparse = r.sparse.summary();
    return reorder_figure(c, sparse_law, sparse.unique, sparse.early);
  }
  const ProbeSummary dense = r.dense.summary();
  const DelayLaw dense_law(c, Duration{static_cast<int64_t>(1e9 / p.dense_pps)}, size_t{1} << 19);
  return reorder_figure(c, dense_law, dense.unique, dense.early);
}

// Not measurable when the sender could not offer more than the rate after loss.
Figure throughput(const DirectionRun& r, const HostAllowance& allowance) {
  const DirectionConfig& c = *r.config;
  const ProbeSummary rate = r.rate.summary();
  const double spread_ms = static_cast<double>(delay_spread(c).count()) / 1e6;
  Figure f =
      throughput_figure(c, rate.throughput_bps, rate.throughput_window_s, spread_ms, allowance);
  const double ip_bits = (r.plan.rate_payload + kUdpIpv4Overhead) * 8.0;
  const double offered = r.rate.sent.achieved_pps * ip_bits;
  const double lost = std::min(0.5, LossModel::stationary_loss(c.loss) + c.corrupt);
  if (offered * (1 - lost) < 1.05 * static_cast<double>(c.rate.bits_per_second)) {
    f.measurable = false;
    f.note = fmt::format("the sender reached only {}: this host cannot offer more than the rate",
                         format_rate(offered));
  }
  return f;
}

DirectionResult judge(const DirectionRun& r, const HostAllowance& allowance) {
  const DirectionPlan& p = r.plan;
  const ProbeSummary base = r.base.summary();
  const ProbeSummary sparse = r.sparse.summary();
  const ProbeSummary dense = r.dense.summary();
  const BasePath base_path{base.delay.p50, base.delay.p99, base.delay.mean, base.delay.stddev};

  const DelayLaw sparse_law(*r.config, p.sparse_spacing);

  DirectionResult d;
  d.direction = r.direction;
  d.figures = delay_and_stall_figures(r, sparse_law, base_path, allowance);
  CountSample counts;
  counts.sent = r.sparse.sent.sent + r.dense.sent.sent;
  counts.unique = sparse.unique + dense.unique;
  counts.duplicates = sparse.duplicates + dense.duplicates;
  counts.damaged = sparse.damaged + dense.damaged;
  counts.payload = p.dense_payload;
  for (Figure& f : count_figures(*r.config, counts)) {
    d.figures.push_back(std::move(f));
  }
  d.figures.push_back(reordering(r, sparse_law));
  if (p.rate) {
    d.figures.push_back(throughput(r, allowance));
  }

  d.sparse = {r.sparse.sent.sent, static_cast<double>(p.sparse_spacing.count()) / 1e6,
              sparse.unique};
  d.dense = {r.dense.sent.sent, r.dense.sent.achieved_pps, dense.unique, dense.early, dense.late};
  d.rate.sent = r.rate.sent.sent;
  d.rate.payload = p.rate_payload;
  d.rate.achieved_pps = r.rate.sent.achieved_pps;
  d.rate.received = r.rate.received.arrivals.size();
  d.rate.measured = p.rate;
  d.rate.elapsed_s = r.rate.sent.elapsed_s;
  d.base_p50_ms = base.delay.p50;
  d.base_p99_ms = base.delay.p99;
  return d;
}

bool all_within_tolerance(const VerifyResult& result) {
  return std::all_of(result.directions.begin(), result.directions.end(),
                     [](const DirectionResult& d) {
                       return std::all_of(d.figures.begin(), d.figures.end(),
                                          [](const Figure& f) { return f.ok(); });
                     });
}

}  // namespace

PlanBudget plan_budget(double duration_s) {
  PlanBudget budget;
  budget.sparse = Duration{static_cast<int64_t>(duration_s * 0.5e9)};
  budget.dense = Duration{static_cast<int64_t>(duration_s / 3 * 1e9)};
  budget.rate = Duration{static_cast<int64_t>(std::max(2.0, duration_s * 0.1) * 1e9)};
  return budget;
}

std::string run_profile_text(const Profile& run) {
  Profile p = run;
  p.links.front().match = Match{};
  return render_profile(p);
}

VerifyResult verify(const VerifyRequest& request, Interrupt& interrupt, const Progress& progress) {
  const Profile& profile = request.expected;
  const uint64_t seed = request.seed ? *request.seed : draw_seed();
  const PlanBudget budget = plan_budget(request.duration_s);

  const WorkDir work;
  const Testbed testbed(static_cast<int>(::getpid()));
  const Runs runs = plan_runs(profile, testbed, budget);
  progress(fmt::format("badlink verify: profile '{}' ({}), seed {}\n", profile.name, profile.source,
                       seed) +
           fmt::format("testbed: {} ({}) -- {} (badlink run --wan {}) -- {} ({})\n",
                       testbed.client(), Testbed::kClientAddress, testbed.gateway(), testbed.wan(),
                       testbed.server(), Testbed::kServerAddress));
  check_base_path(runs, interrupt);

  const std::filesystem::path run_profile_file = work / "profile.toml";
  write_file(run_profile_file, run_profile_text(request.run));
  BadlinkRun badlink(request.badlink, testbed.gateway(),
                     {"--profile", run_profile_file.string(), "--wan", testbed.wan(), "--seed",
                      std::to_string(seed), "--stats-interval", "0", "--stats-json",
                      (work / "stats.json").string()},
                     work / "badlink.log");
  badlink.wait_ready(interrupt);

  std::vector<DirectionRun*> impaired;
  for (const auto& r : runs) {
    if (!r->config->is_passthrough()) {
      impaired.push_back(r.get());
    }
  }
  if (impaired.empty()) {
    progress("the profile impairs neither direction: nothing to measure\n");
  }
  measure(impaired, interrupt, progress);

  VerifyResult result;
  result.profile = profile.name;
  result.source = profile.source;
  result.seed = seed;
  result.run_status = badlink.stop();
  if (!result.run_clean()) {
    result.run_log_tail = badlink.log_tail();
  }
  for (const DirectionRun* r : impaired) {
    result.directions.push_back(judge(*r, request.allowance));
  }
  result.ok = result.run_clean() && all_within_tolerance(result);
  return result;
}

}  // namespace badlink::probe
