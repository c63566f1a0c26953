// Controller over a Runtime with a fake diversion, no root: views answered at once, changes
// applied in turn through the runtime's background preparation and answered once committed,
// a stale generation refused, a failed preparation leaving the running profile, and close()
// answering whatever still waits.
#include <gtest/gtest.h>
#include <signal.h>

#include <future>
#include <stdexcept>

#include "fake_backend.hh"
#include "live/controller.hh"

namespace badlink {
namespace {

using std::chrono::milliseconds;

class FakeDiversion final : public Diversion {
 public:
  explicit FakeDiversion(FakeBackend& backend) : backend_(backend) {}
  DivertBackend& backend() override { return backend_; }
  std::unique_ptr<DiversionChange> prepare(const DiversionPlan& /*plan*/) override {
    if (fail) {
      throw std::runtime_error("fake: iptables failed");
    }
    return std::make_unique<DiversionChange>();
  }
  void commit(std::unique_ptr<DiversionChange> /*prepared*/) noexcept override {}
  void stop() noexcept override {}
  DirectionTraits traits(Direction /*d*/) const override { return DirectionTraits{true}; }
  DiversionReport report() const override { return DiversionReport{}; }

  std::atomic<bool> fail{false};

 private:
  FakeBackend& backend_;
};

Profile delay_profile(const std::string& name, int ms) {
  return parse_profile(
      "[profile]\nname = \"" + name + "\"\n[outbound]\ndelay = \"" + std::to_string(ms) + "ms\"\n",
      name + ".toml");
}

class LiveController : public ::testing::Test {
 protected:
  LiveController() {
    LiveOptions options;
    options.burst_linger = Duration{0};
    options.stats_interval = Duration{0};
    options.wake_calibration = Duration{0};
    runtime_ = std::make_unique<Runtime>(
        delay_profile("start", 10), 7,
        [this](const DiversionPlan& /*plan*/) {
          auto d = std::make_unique<FakeDiversion>(backend_);
          diversion_ = d.get();
          return d;
        },
        clock_, signals_, options);
    controller_ = std::make_unique<Controller>(*runtime_, queue_, [](const Profile& p) {
      if (p.name == "refused") {
        throw std::runtime_error("not on this run");
      }
    });
  }

  // Runs the loop, handing its events to the controller, until `f` is answered.
  template <class T>
  void serve_until(std::future<T>& f) {
    for (int i = 0; i < 1000 && f.wait_for(milliseconds(0)) != std::future_status::ready; ++i) {
      controller_->handle(runtime_->run());
    }
    ASSERT_EQ(f.wait_for(milliseconds(0)), std::future_status::ready);
  }

  TickingClock clock_{from_nanos(1'000'000'000)};
  SignalFd signals_{SIGUSR1};
  FakeBackend backend_;
  FakeDiversion* diversion_ = nullptr;
  std::unique_ptr<Runtime> runtime_;
  ControlQueue queue_;
  std::unique_ptr<Controller> controller_;
};

TEST_F(LiveController, AViewIsAnsweredFromTheRuntime) {
  std::future<LoopView> v = queue_.view();
  serve_until(v);
  const LoopView view = v.get();
  EXPECT_EQ(view.profile.name, "start");
  EXPECT_EQ(view.generation, 0U);
  ASSERT_EQ(view.snapshot.links.size(), 1U);
  EXPECT_EQ(view.snapshot.links[0].name, "default");
}

TEST_F(LiveController, ChangesAreAppliedInTurnAndAnsweredOnceCommitted) {
  std::future<uint64_t> first = queue_.apply(delay_profile("first", 20), 0, "test");
  std::future<uint64_t> second = queue_.apply(delay_profile("second", 30), std::nullopt, "test");
  serve_until(first);
  EXPECT_EQ(first.get(), 1U);
  // Answered only once committed: the runtime runs it already.
  serve_until(second);
  EXPECT_EQ(second.get(), 2U);
  EXPECT_EQ(runtime_->profile().name, "second");
  EXPECT_EQ(runtime_->profile().links[0].outbound.delay.delay, milliseconds(30));
  EXPECT_EQ(controller_->generation(), 2U);
  EXPECT_FALSE(runtime_->preparing());
}

TEST_F(LiveController, AStaleGenerationIsAConflict) {
  controller_->reloaded();  // as after a SIGHUP
  std::future<uint64_t> f = queue_.apply(delay_profile("late", 20), 0, "test");
  serve_until(f);
  EXPECT_THROW(f.get(), GenerationConflict);
  EXPECT_EQ(runtime_->profile().name, "start");
}

TEST_F(LiveController, AFailedPreparationLeavesTheRunningProfile) {
  diversion_->fail = true;
  std::future<uint64_t> f = queue_.apply(delay_profile("next", 20), 0, "test");
  serve_until(f);
  EXPECT_THROW(f.get(), ApplyFailed);
  EXPECT_EQ(runtime_->profile().name, "start");
  EXPECT_EQ(controller_->generation(), 0U);
  diversion_->fail = false;
  std::future<uint64_t> again = queue_.apply(delay_profile("next", 20), 0, "test");
  serve_until(again);
  EXPECT_EQ(again.get(), 1U);
}

TEST_F(LiveController, ARefusedProfileIsNotPrepared) {
  std::future<uint64_t> f = queue_.apply(delay_profile("refused", 20), 0, "test");
  serve_until(f);
  EXPECT_THROW(f.get(), ProfileRefused);
  EXPECT_FALSE(runtime_->preparing());
}

// The timeline's commands reach the runtime; what it refuses comes back as CommandRefused (the
// API's 409), first for want of a schedule, then for a pause when paused.
TEST_F(LiveController, TimelineCommandsAreDoneOrRefused) {
  std::future<void> f = queue_.timeline(TimelineAction::pause, "test");
  serve_until(f);
  EXPECT_THROW(f.get(), CommandRefused);
  std::future<uint64_t> scheduled =
      queue_.apply(parse_profile("[profile]\nname = \"scheduled\"\n[[schedule]]\nat = \"2s\"\n"
                                 "outbound = { delay = \"50ms\" }\n",
                                 "scheduled.toml"),
                   0, "test");
  serve_until(scheduled);
  ASSERT_EQ(scheduled.get(), 1U);
  for (const bool refused : {false, true}) {
    f = queue_.timeline(TimelineAction::pause, "test");
    serve_until(f);
    if (refused) {
      EXPECT_THROW(f.get(), CommandRefused);
    } else {
      EXPECT_NO_THROW(f.get());
    }
    EXPECT_TRUE(runtime_->snapshot().timeline_paused);
  }
  f = queue_.timeline(TimelineAction::restart, "test");
  serve_until(f);
  EXPECT_NO_THROW(f.get());
  EXPECT_FALSE(runtime_->snapshot().timeline_paused);
}

TEST_F(LiveController, CloseAnswersWhatWaits) {
  std::future<uint64_t> f = queue_.apply(delay_profile("never", 20), 0, "test");
  controller_->close();
  EXPECT_THROW(f.get(), ControlClosed);
  EXPECT_THROW(queue_.view().get(), ControlClosed);
}

}  // namespace
}  // namespace badlink
