// Traces: the two readers (every problem at its line), a delivery trace serving the bottleneck
// as Mahimahi's link does (per-byte accounting, wasted opportunities, the loop), CSV rows over
// a schedule on one clock, and profiles that name traces (relative paths, errors, show).
#include "profile/trace.hh"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "engine_harness.hh"
#include "profile/profile.hh"
#include "profile/timeline.hh"
#include "temp_dir.hh"

namespace badlink {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

const TimePoint t0 = from_nanos(1'000'000'000);

std::vector<TraceProblem> delivery_problems(std::string_view text) {
  try {
    parse_delivery_trace(text, "t", true);
  } catch (const TraceError& e) {
    return e.problems();
  }
  return {};
}

std::vector<TraceProblem> csv_problems(std::string_view text) {
  try {
    parse_config_trace(text, "t.csv");
  } catch (const TraceError& e) {
    return e.problems();
  }
  return {};
}

TEST(DeliveryTraceReader, ReadsMahimahisFormat) {
  const DeliveryTrace t = parse_delivery_trace("0\n5\n5\n10\n", "x.down", true);
  EXPECT_EQ(t.ms, (std::vector<uint64_t>{0, 5, 5, 10}));
  EXPECT_EQ(t.period(), milliseconds(10));
  EXPECT_EQ(t.source, "x.down");
  // 4 opportunities of 1,500 bytes every 10 ms: 4.8 Mbit/s.
  EXPECT_DOUBLE_EQ(t.mean_bits_per_second(), 4'800'000.0);
  EXPECT_EQ(parse_delivery_trace("1\r\n2", "x", false).ms, (std::vector<uint64_t>{1, 2}));
}

TEST(DeliveryTraceReader, NamesEveryBadLine) {
  const auto p = delivery_problems("1\n2\nabc\n1\n\n-3\n");
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0].line, 3u);
  EXPECT_THAT(p[0].message, HasSubstr("whole milliseconds"));
  EXPECT_THAT(p[0].message, HasSubstr("'abc'"));
  EXPECT_EQ(p[1].line, 4u);
  EXPECT_THAT(p[1].message, HasSubstr("must not decrease: 1 ms comes after 2 ms"));
  EXPECT_EQ(p[2].line, 5u);
  EXPECT_THAT(p[2].message, HasSubstr("empty line"));
  EXPECT_EQ(p[3].line, 6u);
  EXPECT_THAT(delivery_problems("")[0].message, HasSubstr("the trace is empty"));
  EXPECT_THAT(delivery_problems("0\n0\n")[0].message, HasSubstr("lasts no time"));
  EXPECT_THAT(delivery_problems("999999999999\n")[0].message, HasSubstr("past a week"));
}

TEST(ConfigTraceReader, ReadsAnySubsetOfColumns) {
  const ConfigTrace t = parse_config_trace(
      "# a comment\nat_us, delay_us,rate_bps,loss,jitter_us,queue_limit_packets\n"
      "0,20000,1000000,0.01,,\n\n1500000,,-1,,500,50\n",
      "t.csv");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].at, Duration{0});
  EXPECT_EQ(t.rows[0].delay, milliseconds(20));
  EXPECT_EQ(t.rows[0].rate, 1'000'000u);
  EXPECT_EQ(t.rows[0].loss, 0.01);
  EXPECT_FALSE(t.rows[0].jitter);
  EXPECT_EQ(t.rows[1].at, milliseconds(1500));
  EXPECT_FALSE(t.rows[1].delay);  // empty: the link's own
  EXPECT_EQ(t.rows[1].rate, 0u);  // -1: no limit
  EXPECT_EQ(t.rows[1].jitter, microseconds(500));
  EXPECT_EQ(t.rows[1].queue_limit_packets, 50u);
  EXPECT_EQ(t.rows[1].line, 5u);
  EXPECT_EQ(t.duration(), milliseconds(1500));
}

TEST(ConfigTraceReader, NamesEveryBadLine) {
  auto p = csv_problems("at_us,delay,loss\n");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].line, 1u);
  EXPECT_THAT(p[0].message, HasSubstr("unknown column 'delay'"));
  EXPECT_THAT(p[0].message, HasSubstr("at_us,delay_us,jitter_us,rate_bps,loss"));
  EXPECT_THAT(csv_problems("delay_us\n1\n")[0].message, HasSubstr("no at_us column"));
  p = csv_problems("at_us,delay_us,loss,rate_bps\n10,1,0.5,100\n20,x,2,0\n5,1,0,1\n7,1\n");
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].line, 3u);
  EXPECT_THAT(p[0].message, HasSubstr("delay_us: expected a whole number of microseconds"));
  EXPECT_THAT(p[1].message, HasSubstr("loss: expected a probability 0..1"));
  EXPECT_THAT(p[2].message, HasSubstr("rate_bps: expected bits per second"));
  EXPECT_EQ(p[3].line, 4u);
  EXPECT_THAT(p[3].message, HasSubstr("rows must come in order of time"));
  EXPECT_EQ(p[4].line, 5u);
  EXPECT_THAT(p[4].message, HasSubstr("2 cells, the header has 4"));
  EXPECT_THAT(csv_problems("")[0].message, HasSubstr("the trace is empty"));
  EXPECT_THAT(csv_problems("at_us\n")[0].message, HasSubstr("no row"));
}

TEST(ConfigTraceReader, ARowGoesOverTheLinksOwn) {
  DirectionConfig base;
  base.delay.delay = milliseconds(5);
  base.rate.bits_per_second = 1000;
  TraceRow row;
  row.loss = 0.25;
  row.rate = 0;
  const DirectionConfig c = apply_row(base, row);
  EXPECT_EQ(c.delay.delay, milliseconds(5));
  EXPECT_EQ(c.rate.bits_per_second, 0u);
  EXPECT_EQ(std::get<BernoulliLoss>(c.loss).p, 0.25);
}

// Mahimahi's link: an opportunity serves what waited before it, carries 1,500 bytes (a packet
// may span opportunities; what one leaves carries the next waiting packet), and is wasted when
// nothing waits.
TEST(DeliverySchedule, AccountsPerByteAndWastesIdleOpportunities) {
  const DeliveryTrace t = parse_delivery_trace("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "t", true);
  DeliverySchedule s;
  // 1,000 bytes at 0.5 ms: the opportunity at 1 ms; 1,000 more queued behind it: 500 left of
  // 1 ms, then 500 of 2 ms.
  EXPECT_EQ(s.serve(t, t0, 1000, t0 + microseconds(500), false), t0 + milliseconds(1));
  EXPECT_EQ(s.serve(t, t0, 1000, t0 + milliseconds(1), true), t0 + milliseconds(2));
  // Idle until 4.2 ms: what 2 ms left and the opportunities at 3 and 4 ms are wasted.
  EXPECT_EQ(s.serve(t, t0, 100, t0 + microseconds(4200), false), t0 + milliseconds(5));
  // An opportunity does not serve a packet that arrives at its very moment.
  EXPECT_EQ(s.serve(t, t0, 100, t0 + milliseconds(6), false), t0 + milliseconds(7));
  // 4,000 bytes (a super-packet): three opportunities.
  EXPECT_EQ(s.serve(t, t0, 4000, t0 + microseconds(7500), false), t0 + milliseconds(10));
  // The trace loops: its period is its last time, 10 ms.
  EXPECT_EQ(s.serve(t, t0, 100, t0 + microseconds(10500), false), t0 + milliseconds(11));
  EXPECT_EQ(s.serve(t, t0, 100, t0 + milliseconds(1234) + microseconds(500), false),
            t0 + milliseconds(1235));
}

TEST(DeliverySchedule, ATraceThatDoesNotLoopEnds) {
  const DeliveryTrace t = parse_delivery_trace("1\n2\n", "t", false);
  DeliverySchedule s;
  EXPECT_EQ(s.serve(t, t0, 1500, t0, false), t0 + milliseconds(1));
  EXPECT_EQ(s.serve(t, t0, 1500, t0 + milliseconds(1), true), t0 + milliseconds(2));
  EXPECT_EQ(s.serve(t, t0, 1500, t0 + milliseconds(2), true), std::nullopt);
  EXPECT_EQ(s.serve(t, t0, 10, t0 + milliseconds(50), false), std::nullopt);
}

DirectionConfig traced(std::shared_ptr<const DeliveryTrace> t, QueueLimit limit = {}) {
  DirectionConfig c;
  c.rate.trace = std::move(t);
  c.queue = limit;
  return c;
}

// A saturated link delivers what the trace offers: 1,500-byte packets, one per opportunity,
// over several loops; with 750-byte packets, two per opportunity.
TEST(DeliveryTraceBottleneck, ASaturatedLinkDeliversTheTracesRate) {
  auto t = std::make_shared<const DeliveryTrace>(
      parse_delivery_trace("2\n2\n5\n9\n10\n", "t", true));  // 5 per 10 ms: 6 Mbit/s
  for (const size_t ip_bytes : {size_t{1500}, size_t{750}}) {
    EngineHarness h(traced(t, {.packets = 0, .bytes = 0}));
    h.engine().set_trace_epoch(t0);
    for (int i = 0; i < 1000; ++i) {
      h.submit(t0 + microseconds(1), ip_bytes - 28);
    }
    const auto out = h.finish();
    ASSERT_EQ(out.size(), 1000u);
    const size_t per_opportunity = 1500 / ip_bytes;
    // Packet i leaves at opportunity i / per_opportunity: cycle * 10 ms + the trace's time.
    const std::array<int, 5> ms{2, 2, 5, 9, 10};
    for (size_t i = 0; i < out.size(); ++i) {
      const size_t k = i / per_opportunity;
      EXPECT_EQ(out[i].departure, t0 + milliseconds(static_cast<int>(k / 5) * 10 + ms[k % 5]))
          << i << " of " << ip_bytes;
    }
  }
}

// A trace run once leaves what is queued after its end waiting; a change of the link's rate
// serves it, with no packet arriving to set it going.
TEST(DeliveryTraceBottleneck, WhatAnEndedTraceLeftIsServedAfterAChange) {
  auto t = std::make_shared<const DeliveryTrace>(parse_delivery_trace("1\n2\n", "t", false));
  EngineHarness h(traced(t, {.packets = 0, .bytes = 0}));
  h.engine().set_trace_epoch(t0);
  for (int i = 0; i < 5; ++i) {
    h.submit(t0, 1500 - 28);
  }
  h.advance(t0 + milliseconds(10));
  EXPECT_EQ(h.engine().queued_packets(0, Direction::outbound), 3u);
  DirectionConfig fixed;
  fixed.rate.bits_per_second = 12'000'000;  // a 1,500-byte packet a ms
  fixed.queue = {.packets = 0, .bytes = 0};
  h.engine().reconfigure(DirectionConfigs{fixed, DirectionConfig{}});
  const auto out = h.finish();
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[1].departure, t0 + milliseconds(2));
  EXPECT_GT(out[2].departure, t0 + milliseconds(2));
  EXPECT_EQ(out[4].departure - out[3].departure, milliseconds(1));
}

TEST(DeliveryTraceBottleneck, ItsQueueTailDrops) {
  auto t = std::make_shared<const DeliveryTrace>(parse_delivery_trace("10\n", "t", true));
  EngineHarness h(traced(t, {.packets = 5, .bytes = 0}));
  h.engine().set_trace_epoch(t0);
  for (int i = 0; i < 20; ++i) {
    h.submit(t0, 1000);
  }
  EXPECT_EQ(h.engine().stats(Direction::outbound).dropped_queue, 15u);
  EXPECT_EQ(h.finish().size(), 5u);
}

Link csv_link(const std::string& csv, std::optional<Duration> repeat = std::nullopt) {
  Link l;
  l.name = "x";
  l.outbound.delay.delay = milliseconds(10);
  l.has_outbound = true;
  l.traces[0] = std::make_shared<const ConfigTrace>(parse_config_trace(csv, "t.csv"));
  l.schedule.repeat = repeat;
  return l;
}

TEST(ConfigTraceTimeline, RowsHoldFromTheirTimeToTheNext) {
  const Timeline tl({csv_link("at_us,delay_us\n1000000,50000\n3000000,\n")});
  EXPECT_FALSE(tl.empty());
  EXPECT_EQ(tl.phase(0, milliseconds(999)).configs[0].delay.delay, milliseconds(10));
  EXPECT_FALSE(tl.phase(0, milliseconds(999)).row[0]);
  EXPECT_EQ(tl.phase(0, milliseconds(1000)).configs[0].delay.delay, milliseconds(50));
  EXPECT_EQ(tl.phase(0, milliseconds(1000)).row[0], 0u);
  EXPECT_EQ(tl.phase(0, milliseconds(5000)).configs[0].delay.delay, milliseconds(10));
  EXPECT_EQ(tl.next_change(Duration{0}), milliseconds(1000));
  EXPECT_EQ(tl.next_change(milliseconds(1000)), milliseconds(3000));
  EXPECT_EQ(tl.next_change(milliseconds(3000)), std::nullopt);
  // With a repeat, the rows start again.
  const Timeline looped({csv_link("at_us,delay_us\n0,20000\n1000000,30000\n", seconds(2))});
  EXPECT_EQ(looped.phase(0, milliseconds(2500)).configs[0].delay.delay, milliseconds(20));
  EXPECT_EQ(looped.phase(0, milliseconds(2500)).cycle, 1u);
  EXPECT_EQ(looped.next_change(milliseconds(3000)), milliseconds(4000));
}

std::string write(const testing::TempDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir / name) << text;
  return (dir / name).string();
}

std::vector<Diagnostic> profile_errors(const std::string& path) {
  try {
    load_profile(path);
  } catch (const ProfileError& e) {
    return e.diagnostics();
  }
  return {};
}

TEST(ProfileTraces, NamedRelativeToTheProfileAndShown) {
  testing::TempDir dir;
  std::filesystem::create_directory(dir / "traces");
  write(dir, "traces/lte.down", "1\n1\n2\n4\n");
  write(dir, "traces/train.csv", "at_us,delay_us,loss\n0,30000,\n2000000,80000,0.05\n");
  const std::string path = write(dir, "p.toml",
                                 "[profile]\nname = \"t\"\n[outbound]\ndelay = \"10ms\"\n"
                                 "trace = \"traces/train.csv\"\n"
                                 "[inbound]\nrate = { trace = \"traces/lte.down\" }\n"
                                 "[[schedule]]\nat = \"1s\"\noutbound = { jitter = \"1ms\" }\n");
  const Profile p = load_profile(path);
  const Link& l = p.single_link();
  ASSERT_TRUE(l.inbound.rate.trace);
  EXPECT_EQ(l.inbound.rate.trace->ms.size(), 4u);
  EXPECT_TRUE(l.inbound.rate.trace->loop);
  ASSERT_TRUE(l.traces[0]);
  EXPECT_EQ(l.traces[0]->rows.size(), 2u);
  // The schedule's step and the trace's rows on one clock: the step's jitter stays under the
  // row that comes after it.
  const Timeline tl(p.links);
  EXPECT_EQ(tl.phase(0, milliseconds(500)).configs[0].delay.delay, milliseconds(30));
  EXPECT_EQ(tl.phase(0, milliseconds(1500)).configs[0].delay.jitter, milliseconds(1));
  const LinkPhase late = tl.phase(0, milliseconds(2500));
  EXPECT_EQ(late.configs[0].delay.delay, milliseconds(80));
  EXPECT_EQ(late.configs[0].delay.jitter, milliseconds(1));
  EXPECT_EQ(std::get<BernoulliLoss>(late.configs[0].loss).p, 0.05);
  const std::string shown = render_profile(p);
  EXPECT_THAT(shown, HasSubstr("rate = { trace = \"traces/lte.down\" }"));
  EXPECT_THAT(shown, HasSubstr("trace = \"traces/train.csv\""));
  // What show prints reads back the same, from the same directory.
  const std::string again = write(dir, "again.toml", shown);
  EXPECT_EQ(render_profile(load_profile(again)), shown);
}

TEST(ProfileTraces, ErrorsNameTheTraceFileAndLine) {
  testing::TempDir dir;
  write(dir, "bad.down", "1\n3\n2\n");
  write(dir, "bad.csv", "at_us,delay_us\n0,x\n");
  const std::string path =
      write(dir, "p.toml",
            "[profile]\nname = \"t\"\n[outbound]\nrate = { trace = \"bad.down\" }\n"
            "trace = \"bad.csv\"\n[inbound]\nrate = { trace = \"missing\" }\n");
  const auto d = profile_errors(path);
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[0].line, 4u);
  EXPECT_THAT(
      d[0].message,
      HasSubstr("outbound.rate.trace: the trace \"bad.down\" is not valid (1 problem, below)"));
  EXPECT_EQ(d[1].line, 5u);
  EXPECT_EQ(d[2].line, 7u);
  EXPECT_THAT(d[2].message, HasSubstr("cannot read trace"));
  EXPECT_EQ(d[3].file, (dir / "bad.csv").string());
  EXPECT_EQ(d[3].line, 2u);
  EXPECT_EQ(d[3].to_string(), (dir / "bad.csv").string() +
                                  ":2: delay_us: expected a whole number of microseconds from 0 "
                                  "to an hour, got 'x'");
  EXPECT_EQ(d[4].file, (dir / "bad.down").string());
  EXPECT_EQ(d[4].line, 3u);
  EXPECT_THAT(d[4].message, HasSubstr("must not decrease"));
}

TEST(ProfileTraces, RelativeToTheProfilesDirectoryOrTheCurrentOne) {
  testing::TempDir dir;
  const std::string path = write(dir, "p.toml", "[profile]\nname = \"t\"\n");
  EXPECT_EQ(trace_directory_of(path), dir.path());
  EXPECT_EQ(trace_directory_of("<stdin>"), std::filesystem::path());
  EXPECT_EQ(trace_directory_of("PUT /v1/profile"), std::filesystem::path());
  // A profile from a request, its traces where the running profile is.
  write(dir, "c.down", "5\n");
  const Profile p =
      parse_profile("[profile]\nname = \"t\"\n[outbound]\nrate = { trace = \"c.down\" }\n",
                    "PUT /v1/profile", dir.path());
  EXPECT_TRUE(p.single_link().outbound.rate.trace);
}

TEST(ProfileTraces, ACsvTraceBelongsToTheLinkNotToAStep) {
  testing::TempDir dir;
  write(dir, "t.csv", "at_us,delay_us\n0,1\n2000000,5\n");
  const auto d = profile_errors(write(dir, "p.toml",
                                      "[profile]\nname = \"t\"\n[[schedule]]\nat = \"1s\"\n"
                                      "outbound = { trace = \"t.csv\" }\n"));
  ASSERT_FALSE(d.empty());
  EXPECT_THAT(d[0].message, HasSubstr("not in a step"));
  // A repeat shorter than the trace would cut it.
  const auto r = profile_errors(write(dir, "r.toml",
                                      "[profile]\nname = \"t\"\n[outbound]\ntrace = \"t.csv\"\n"
                                      "delay = \"1ms\"\n[schedule_options]\nrepeat = \"1us\"\n"));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_THAT(r[0].message, HasSubstr("longer than the link's trace"));
}

}  // namespace
}  // namespace badlink
