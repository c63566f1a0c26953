// Runtime with a fake diversion and backend, no root: each link's packets get that link's
// impairments, a reload is prepare + commit and keeps each link's state by its name, and a
// prepare that fails at any step leaves the running profile, rules and engine as they were.
#include "live/runtime.hh"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/eventfd.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "fake_backend.hh"
#include "live/runtime_snapshot.hh"

namespace badlink {
namespace {

using std::chrono::milliseconds;

// What the fake diversion has "installed": the plan its rules were made for, by generation.
struct Installed {
  int generation = 0;
  std::vector<std::string> matches;  // per link in order: name and ports, as text
  std::vector<uint16_t> slots;
  friend bool operator==(const Installed&, const Installed&) = default;
};

Installed installed_for(const DiversionPlan& plan, int generation) {
  Installed i;
  i.generation = generation;
  for (const DivertedLink& l : plan.links) {
    std::string ports;
    for (const PortRange& p : l.match.ports) {
      ports += std::to_string(p.first) + "-" + std::to_string(p.last) + ",";
    }
    i.matches.push_back(l.name + ":" + ports);
    i.slots.push_back(l.slot);
  }
  return i;
}

// Fails prepare() at the step the test names: "queues" (binding a new link's queues) or
// "rules" (building the new rules, after the queues); what a failed step made is undone.
class FakeDiversion final : public Diversion {
 public:
  FakeDiversion(FakeBackend& backend, const DiversionPlan& plan)
      : running(installed_for(plan, 0)), bound_slots(plan.links.size()), backend_(backend) {}

  DivertBackend& backend() override { return backend_; }

  std::unique_ptr<DiversionChange> prepare(const DiversionPlan& plan) override {
    auto change = std::make_unique<Change>(*this);
    size_t slots = bound_slots;
    for (const DivertedLink& l : plan.links) {
      slots = std::max<size_t>(slots, size_t{l.slot} + 1);
    }
    if (slots > bound_slots) {
      if (fail_at == "queues") {
        throw std::runtime_error("fake: binding queues failed");
      }
      change->bound = slots - bound_slots;
      bound_slots = slots;  // undone by the change unless committed
    }
    if (fail_at == "rules") {
      throw std::runtime_error("fake: iptables failed");
    }
    change->next = installed_for(plan, running.generation + 1);
    ++rule_sets;  // the new rules, beside the running ones
    change->rules = true;
    return change;
  }

  void commit(std::unique_ptr<DiversionChange> prepared) noexcept override {
    auto* change = static_cast<Change*>(prepared.get());
    running = change->next;
    change->bound = 0;
    ++commits;
    // The change's destructor takes out the old rule set in place of the new one.
  }

  void stop() noexcept override { stopped = true; }
  DirectionTraits traits(Direction /*d*/) const override { return DirectionTraits{true}; }
  DiversionReport report() const override { return DiversionReport{}; }

  std::string fail_at;
  Installed running;
  size_t bound_slots = 0;
  int rule_sets = 1;  // rule sets in place now
  int commits = 0;
  bool stopped = false;

 private:
  struct Change final : DiversionChange {
    explicit Change(FakeDiversion& d) : owner(d) {}
    ~Change() override {
      owner.bound_slots -= bound;
      if (rules) {
        --owner.rule_sets;  // the new ones if dropped, the old ones once committed
      }
    }
    FakeDiversion& owner;
    Installed next;
    size_t bound = 0;
    bool rules = false;
  };
  FakeBackend& backend_;
};

constexpr const char* kTwoLinks = R"([profile]
name = "two"
[[link]]
name = "video"
match = { protocol = "udp", ports = ["5000"] }
outbound = { delay = "10ms" }
[[link]]
name = "rest"
outbound = { delay = "30ms" }
)";

class LiveRuntime : public ::testing::Test {
 protected:
  void start(const char* profile) {
    LiveOptions options;
    options.burst_linger = Duration{0};
    options.stats_interval = Duration{0};
    options.wake_calibration = Duration{0};
    runtime_ = std::make_unique<Runtime>(
        parse_profile(profile, "test.toml"), 7,
        [this](const DiversionPlan& plan) {
          auto d = std::make_unique<FakeDiversion>(backend_, plan);
          diversion_ = d.get();
          return d;
        },
        clock_, signals_, options);
  }
  void turn() {
    ::raise(SIGUSR1);
    ASSERT_EQ(runtime_->run().kind, LiveEvent::Kind::write_stats);
  }
  // When packet `handle` was handed back, in ms after `from`; -1: not (yet).
  double sent_after(uint64_t handle, TimePoint from) const {
    for (size_t i = 0; i < backend_.reinjected.size(); ++i) {
      if (backend_.reinjected[i] == handle) {
        return static_cast<double>((backend_.reinjected_at[i] - from).count()) / 1e6;
      }
    }
    return -1;
  }
  // One outbound packet for each of slots 0 and 1, and where they were after 40 ms.
  std::pair<double, double> delays_of_slots(uint64_t first_handle) {
    const TimePoint t0 = clock_.now();
    backend_.queue(Direction::outbound, first_handle, t0, 0);
    backend_.queue(Direction::outbound, first_handle + 1, t0, 1);
    turn();
    for (int ms = 0; ms < 40; ++ms) {
      clock_.advance(milliseconds(1));
      turn();
    }
    return {sent_after(first_handle, t0), sent_after(first_handle + 1, t0)};
  }

  TickingClock clock_{from_nanos(1'000'000'000)};
  SignalFd signals_{SIGUSR1};
  FakeBackend backend_;
  FakeDiversion* diversion_ = nullptr;
  std::unique_ptr<Runtime> runtime_;
};

TEST_F(LiveRuntime, EachLinkGetsItsOwnImpairments) {
  backend_.clock = &clock_;
  start(kTwoLinks);
  EXPECT_EQ(diversion_->running.slots, (std::vector<uint16_t>{0, 1}));
  const auto [video, rest] = delays_of_slots(1);
  EXPECT_EQ(video, 10.0);
  EXPECT_EQ(rest, 30.0);
  const RuntimeSnapshot s = runtime_->snapshot();
  ASSERT_EQ(s.links.size(), 2u);
  EXPECT_EQ(s.links[0].name, "video");
  EXPECT_EQ(s.links[0].directions[0].sent, 1u);
  EXPECT_EQ(s.links[1].directions[0].sent, 1u);
  EXPECT_EQ(s.total(Direction::outbound).sent, 2u);
}

// The links swap places and "video" gets 20 ms: each keeps its slot (and counters) by name,
// so the rules' queues and the engine's state follow the link, not its place in the file.
TEST_F(LiveRuntime, AReloadKeepsEachLinkByName) {
  backend_.clock = &clock_;
  start(kTwoLinks);
  delays_of_slots(1);
  runtime_->commit(runtime_->prepare(parse_profile(R"([profile]
name = "swapped"
[[link]]
name = "rest"
match = { protocol = "udp", ports = ["6000"] }
outbound = { delay = "30ms" }
[[link]]
name = "video"
outbound = { delay = "20ms" }
)",
                                                   "next.toml")));
  EXPECT_EQ(runtime_->profile().name, "swapped");
  EXPECT_EQ(diversion_->running.slots, (std::vector<uint16_t>{1, 0}));
  EXPECT_EQ(diversion_->running.matches, (std::vector<std::string>{"rest:6000-6000,", "video:"}));
  EXPECT_EQ(diversion_->rule_sets, 1);  // the old rules went at commit
  const auto [video, rest] = delays_of_slots(11);
  EXPECT_EQ(video, 20.0);
  EXPECT_EQ(rest, 30.0);
  const RuntimeSnapshot s = runtime_->snapshot();
  ASSERT_EQ(s.links.size(), 2u);
  EXPECT_EQ(s.links[0].name, "rest");
  EXPECT_EQ(s.links[0].directions[0].sent, 2u);  // its counters came with it
}

// A link that is new gets a slot of its own; one that is gone keeps its slot unused.
TEST_F(LiveRuntime, ANewLinkGetsANewSlot) {
  start(kTwoLinks);
  runtime_->commit(runtime_->prepare(parse_profile(R"([profile]
name = "three"
[[link]]
name = "api"
match = { protocol = "tcp", ports = ["443"] }
outbound = { delay = "5ms" }
[[link]]
name = "rest"
outbound = { delay = "30ms" }
)",
                                                   "next.toml")));
  EXPECT_EQ(diversion_->running.slots, (std::vector<uint16_t>{2, 1}));
  EXPECT_EQ(diversion_->bound_slots, 3u);
  const RuntimeSnapshot s = runtime_->snapshot();
  ASSERT_EQ(s.links.size(), 2u);
  EXPECT_EQ(s.links[0].name, "api");
  EXPECT_EQ(s.links[0].slot, 2);
}

// Whatever step of prepare() fails, nothing that runs has changed: the profile, the rules,
// the bound queues, and what the engine does to packets.
TEST_F(LiveRuntime, AFailedPrepareLeavesEverythingAsItWas) {
  backend_.clock = &clock_;
  start(kTwoLinks);
  const Installed before = diversion_->running;
  uint64_t handle = 1;
  for (const std::string step : {"queues", "rules"}) {
    diversion_->fail_at = step;
    EXPECT_THROW(runtime_->prepare(parse_profile(R"([profile]
name = "bad"
[[link]]
name = "video"
match = { protocol = "udp", ports = ["7000"] }
outbound = { delay = "1ms" }
[[link]]
name = "new"
outbound = { delay = "1ms" }
)",
                                                 "bad.toml")),
                 std::runtime_error)
        << step;
    EXPECT_EQ(runtime_->profile().name, "two") << step;
    EXPECT_EQ(diversion_->running, before) << step;
    EXPECT_EQ(diversion_->rule_sets, 1) << step;
    EXPECT_EQ(diversion_->bound_slots, 2u) << step;
    EXPECT_EQ(diversion_->commits, 0) << step;
    const auto [video, rest] = delays_of_slots(handle);
    handle += 2;
    EXPECT_EQ(video, 10.0) << step;
    EXPECT_EQ(rest, 30.0) << step;
  }
}

// A prepared plan that is dropped instead of committed undoes itself the same way.
TEST_F(LiveRuntime, ADroppedPlanUndoesItself) {
  start(kTwoLinks);
  {
    RuntimePlan plan = runtime_->prepare(parse_profile(kTwoLinks, "same.toml"));
    EXPECT_EQ(diversion_->rule_sets, 2);  // the new rules stand beside the running ones
  }
  EXPECT_EQ(diversion_->rule_sets, 1);
  EXPECT_EQ(diversion_->commits, 0);
}

// An event source of the caller's wakes the loop, which returns it.
TEST_F(LiveRuntime, AnEventSourceWakesTheLoop) {
  start(kTwoLinks);
  const FileDescriptor source(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  const size_t number = runtime_->add_source(source.fd());
  uint64_t one = 1;
  ASSERT_EQ(::write(source.fd(), &one, sizeof one), static_cast<ssize_t>(sizeof one));
  const LiveEvent e = runtime_->run();
  EXPECT_EQ(e.kind, LiveEvent::Kind::source);
  EXPECT_EQ(e.source, number);
}

// A reload prepared beside the loop: the loop keeps moving packets, returns the prepared
// source when the diversion is done, and the plan (or the failure) is taken then.
TEST_F(LiveRuntime, APrepareInTheBackgroundEndsWithItsSource) {
  backend_.clock = &clock_;
  start(kTwoLinks);
  for (const std::string fail : {"rules", ""}) {
    diversion_->fail_at = fail;
    runtime_->prepare_in_background(parse_profile(R"([profile]
name = "next"
[[link]]
name = "video"
outbound = { delay = "3ms" }
)",
                                                  "next.toml"));
    EXPECT_TRUE(runtime_->preparing());
    EXPECT_THROW(runtime_->prepare(parse_profile(kTwoLinks, "x.toml")), std::logic_error);
    LiveEvent e;
    do {
      e = runtime_->run();
    } while (e.kind != LiveEvent::Kind::source);
    EXPECT_EQ(e.source, runtime_->prepared_source());
    if (!fail.empty()) {
      EXPECT_THROW(runtime_->take_prepared(), std::runtime_error);
      EXPECT_EQ(runtime_->profile().name, "two");
      EXPECT_EQ(diversion_->rule_sets, 1);
      EXPECT_FALSE(runtime_->preparing());
      continue;
    }
    runtime_->commit(runtime_->take_prepared());
    EXPECT_EQ(runtime_->profile().name, "next");
    EXPECT_EQ(diversion_->running.slots, (std::vector<uint16_t>{0}));
  }
}

constexpr const char* kScheduled = R"([profile]
name = "scheduled"
[outbound]
delay = "10ms"
[[schedule]]
at = "2s"
outbound = { delay = "50ms" }
)";

class LiveTimeline : public LiveRuntime {
 protected:
  // One outbound packet now: its delay in ms (-1: not sent within 100 ms).
  double delay_now() {
    const uint64_t handle = next_handle_++;
    const TimePoint t0 = clock_.now();
    backend_.queue(Direction::outbound, handle, t0, 0);
    turn();
    for (int ms = 0; ms < 100 && sent_after(handle, t0) < 0; ++ms) {
      clock_.advance(milliseconds(1));
      turn();
    }
    return sent_after(handle, t0);
  }
  // Moves the clock to `t` after the timeline's zero (the test's start), turning the loop.
  void go_to(Duration t) {
    clock_.set(zero_ + t);
    turn();
  }
  Duration elapsed() { return Duration{runtime_->snapshot().timeline_elapsed_ns}; }
  std::optional<size_t> step() { return runtime_->snapshot().links.at(0).step; }

  void SetUp() override { begin(kScheduled); }
  void begin(const char* profile) {
    backend_.clock = &clock_;
    zero_ = clock_.now();
    start(profile);
  }

  TimePoint zero_;
  uint64_t next_handle_ = 1;
};

// Paused at 1 s (the step at 2 s already prepared ahead: called off), the link keeps its
// first phase well past 2 s and the timeline's time stands still; resumed at 6.1 s, the step
// comes 1 s later (at 7.1 s), not at once.
TEST_F(LiveTimeline, APauseHoldsThePhaseAndResumeMovesTheStepByThePausedTime) {
  using std::chrono::seconds;
  EXPECT_NEAR(delay_now(), 10, 0.5);
  go_to(seconds(1));
  runtime_->pause_timeline();
  EXPECT_TRUE(runtime_->snapshot().timeline_paused);
  EXPECT_EQ(elapsed(), seconds(1));
  go_to(seconds(3));
  EXPECT_NEAR(delay_now(), 10, 0.5) << "a step came while paused";
  go_to(seconds(6));
  EXPECT_NEAR(delay_now(), 10, 0.5);
  EXPECT_EQ(step(), std::nullopt);
  EXPECT_EQ(elapsed(), seconds(1));

  go_to(seconds(6) + milliseconds(100));
  runtime_->resume_timeline();
  EXPECT_FALSE(runtime_->snapshot().timeline_paused);
  go_to(seconds(7));
  EXPECT_EQ(elapsed(), seconds(1) + milliseconds(900));
  EXPECT_NEAR(delay_now(), 10, 0.5) << "the step came less than 1 s after resume";
  go_to(seconds(7) + milliseconds(110));
  EXPECT_NEAR(delay_now(), 50, 0.5);
  EXPECT_EQ(step(), std::optional<size_t>(0));
}

// A restart brings every link back to its first phase at once, the time back to 0, and the
// step again 2 s later; it also ends a pause.
TEST_F(LiveTimeline, ARestartGoesBackToTheFirstPhase) {
  using std::chrono::seconds;
  go_to(seconds(2) + milliseconds(10));
  EXPECT_NEAR(delay_now(), 50, 0.5);
  EXPECT_EQ(step(), std::optional<size_t>(0));
  runtime_->pause_timeline();
  go_to(seconds(5));
  runtime_->restart_timeline();
  EXPECT_FALSE(runtime_->snapshot().timeline_paused);
  EXPECT_EQ(elapsed(), Duration{0});
  EXPECT_EQ(step(), std::nullopt);
  EXPECT_NEAR(delay_now(), 10, 0.5);
  go_to(seconds(6) + milliseconds(900));
  EXPECT_NEAR(delay_now(), 10, 0.5);
  go_to(seconds(7) + milliseconds(10));
  EXPECT_NEAR(delay_now(), 50, 0.5);
}

// A schedule's outage (1 s from 1 s) running at a pause (at 1.5 s) ends at its own end (2 s)
// all the same; after the resume (at 3 s) the step at 1.8 s of the timeline (3.3 s) changes the
// delay but does not start the outage again.
constexpr const char* kOutage = R"([profile]
name = "outage"
[outbound]
delay = "10ms"
[[schedule]]
at = "1s"
outage = { duration = "1s", mode = "drop", direction = "outbound" }
[[schedule]]
at = "1800ms"
outbound = { delay = "30ms" }
)";

class LivePausedOutage : public LiveTimeline {
 protected:
  void SetUp() override { begin(kOutage); }
};

TEST_F(LivePausedOutage, AnOutageRunningAtAPauseEndsAtItsOwnEnd) {
  using std::chrono::seconds;
  go_to(seconds(1) + milliseconds(100));
  EXPECT_EQ(delay_now(), -1) << "the outage drops";
  go_to(seconds(1) + milliseconds(500));
  runtime_->pause_timeline();
  go_to(seconds(1) + milliseconds(900));
  EXPECT_EQ(delay_now(), -1) << "the outage is still on until its end";
  go_to(seconds(2) + milliseconds(100));
  EXPECT_NEAR(delay_now(), 10, 0.5) << "the outage did not end at its own end";
  go_to(seconds(3));
  runtime_->resume_timeline();
  go_to(seconds(3) + milliseconds(200));
  EXPECT_NEAR(delay_now(), 10, 0.5);
  go_to(seconds(3) + milliseconds(350));
  EXPECT_NEAR(delay_now(), 30, 0.5) << "the step after the resume started the outage again";
  go_to(seconds(3) + milliseconds(600));
  EXPECT_NEAR(delay_now(), 30, 0.5);
  EXPECT_EQ(runtime_->snapshot().links.at(0).outage[0], Outage::none);
}

// A repeating schedule restarted in its third cycle is back in cycle 0, before its first step.
TEST_F(LiveRuntime, ARestartGoesBackToCycleZero) {
  backend_.clock = &clock_;
  const TimePoint zero = clock_.now();
  start(R"([profile]
name = "repeat"
[outbound]
delay = "10ms"
[[schedule]]
at = "500ms"
outbound = { delay = "50ms" }
[schedule_options]
repeat = "1s"
)");
  for (int ms = 100; ms <= 2600; ms += 100) {
    clock_.set(zero + milliseconds(ms));
    turn();
  }
  const auto link = [&]() { return runtime_->snapshot().links.at(0); };
  // The snapshot shows the change prepared ahead (here at once: the test's timers are all due).
  EXPECT_GE(link().cycle, 2U);
  runtime_->restart_timeline();
  EXPECT_EQ(link().cycle, 0U);
  EXPECT_EQ(link().step, std::nullopt);
}

// Pausing when paused, resuming when running, and any of the three without a schedule are
// refused with the reason, and change nothing.
TEST_F(LiveTimeline, WhatCannotBeDoneIsRefused) {
  EXPECT_THROW(runtime_->resume_timeline(), std::logic_error);
  runtime_->pause_timeline();
  EXPECT_THROW(runtime_->pause_timeline(), std::logic_error);
  EXPECT_TRUE(runtime_->snapshot().timeline_paused);
}

TEST_F(LiveRuntime, WithoutAScheduleTheTimelineIsRefused) {
  start(kTwoLinks);
  for (void (Runtime::*move)() :
       {&Runtime::restart_timeline, &Runtime::pause_timeline, &Runtime::resume_timeline}) {
    try {
      (runtime_.get()->*move)();
      ADD_FAILURE() << "not refused";
    } catch (const std::logic_error& e) {
      EXPECT_NE(std::string(e.what()).find("no link has a schedule"), std::string::npos);
    }
  }
  EXPECT_FALSE(runtime_->snapshot().timeline_started_unix_ns.has_value());
}

// A reload that keeps the schedules keeps a pause; one that changes them starts afresh.
TEST_F(LiveTimeline, AReloadKeepsAPauseUnlessTheSchedulesChange) {
  using std::chrono::seconds;
  go_to(seconds(1));
  runtime_->pause_timeline();
  go_to(seconds(3));
  runtime_->commit(runtime_->prepare(parse_profile(kScheduled, "again.toml")));
  EXPECT_TRUE(runtime_->snapshot().timeline_paused);
  EXPECT_EQ(elapsed(), seconds(1));
  EXPECT_NEAR(delay_now(), 10, 0.5);
  std::string other = kScheduled;
  other.replace(other.find("\"2s\""), 4, "\"4s\"");
  runtime_->commit(runtime_->prepare(parse_profile(other, "other.toml")));
  EXPECT_FALSE(runtime_->snapshot().timeline_paused);
  EXPECT_EQ(elapsed(), Duration{0});
}

TEST_F(LiveRuntime, FinishStopsTheDiversionFirst) {
  start(kTwoLinks);
  runtime_->finish();
  EXPECT_TRUE(diversion_->stopped);
}

}  // namespace
}  // namespace badlink
