// The live runtime: one object that owns the engine, the diversion (queues, rules, stamps) and
// the packet loop for a profile's links, and changes them the way a reload must -- prepare()
// everything that can fail beside what runs, then commit(), which cannot fail.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hh"
#include "core/packet_pool.hh"
#include "divert/diversion.hh"
#include "divert/live_driver.hh"
#include "engine/engine.hh"
#include "live/runtime_snapshot.hh"
#include "profile/profile.hh"
#include "profile/timeline.hh"
#include "sys/file_descriptor.hh"
#include "sys/signal_fd.hh"
#include "sys/timer_fd.hh"

namespace badlink {

// A reload made ready by Runtime::prepare: the new profile, where each of its links runs (the
// engine's slot), and the engine's and the diversion's prepared changes. Dropped, it undoes
// what prepare() put in place.
class RuntimePlan {
 public:
  RuntimePlan(RuntimePlan&&) noexcept = default;
  RuntimePlan& operator=(RuntimePlan&&) noexcept = default;
  ~RuntimePlan();

  const Profile& profile() const { return profile_; }

 private:
  friend class Runtime;
  RuntimePlan() = default;
  Profile profile_;
  std::vector<std::string> slots_;  // link names by engine slot ("" for a slot let go)
  std::unique_ptr<DiversionChange> diversion_;
  std::optional<EngineChange> engine_;
};

class Runtime {
 public:
  using DiversionFactory = std::function<std::unique_ptr<Diversion>(const DiversionPlan&)>;

  // Sets up `profile`'s links: the engine (seeded with `seed`), the diversion `make_diversion`
  // builds for their plan, and the loop (`clock` must be CLOCK_MONOTONIC's for a real
  // backend). Throws what the diversion throws; nothing stays installed then.
  Runtime(Profile profile, uint64_t seed, const DiversionFactory& make_diversion,
          const Clock& clock, SignalFd& signals, const LiveOptions& options);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Everything a change to `next` needs that can fail: its links placed (a link keeps its
  // slot, counters and state by its name), the diversion's rules for changed matches built
  // beside the running ones, the engine's new pipelines. Throws (std::runtime_error and
  // derived: the message says why) and leaves what runs untouched. No packet is moved
  // between prepare() and commit().
  RuntimePlan prepare(Profile next);
  // Makes the plan the running profile: cannot fail.
  void commit(RuntimePlan plan) noexcept;

  // prepare() with what may take long -- the diversion's part, which runs iptables -- on a
  // thread of its own while the loop goes on moving packets. run() returns a Kind::source
  // event numbered prepared_source() once it is done; take_prepared() then gives the plan, or
  // throws what prepare threw. One at a time (std::logic_error otherwise).
  void prepare_in_background(Profile next);
  bool preparing() const { return pending_.valid(); }
  size_t prepared_source() const { return prepared_source_; }
  RuntimePlan take_prepared();

  // The loop: moves packets until an event needs the caller (see LiveDriver::run). The
  // schedules' steps are the runtime's own events: applied here, never returned.
  LiveEvent run();
  // See LiveDriver::add_source.
  size_t add_source(int fd) { return driver_->add_source(fd); }
  // Orderly end: the rules out, then everything held handed back at once.
  void finish();

  // The counters now, taken on the loop's thread; what another thread may be handed.
  RuntimeSnapshot snapshot() const;

  // An outage of link `link` from now on for its duration (the control API's); it ends by
  // itself. Throws std::out_of_range when the profile has no such link.
  void start_outage(const std::string& link, const OutageStep& outage);

  // The schedules' timeline, as the control API moves it. restart: from 0 now, every link back
  // to its first phase at once. pause: the phase in force stays and no step comes until
  // resume (outages end at their own end all the same). resume: on from where it paused, the
  // paused time left out of its elapsed time. Each throws std::logic_error (the message says
  // why) when no link has a schedule, or the timeline is paused or running already.
  void restart_timeline();
  void pause_timeline();
  void resume_timeline();
  // The timeline's time now, paused time left out (nullopt: no link has a schedule).
  std::optional<Duration> timeline_elapsed() const;

  const Profile& profile() const { return profile_; }
  uint64_t seed() const { return seed_; }
  const LiveStats& loop_stats() const { return driver_->stats(); }

  // The plan of a profile's links placed in `slots` (names by slot; new names get the next
  // free slots, appended to `slots`).
  static DiversionPlan plan_for(const Profile& profile, std::vector<std::string>& slots);

 private:
  void configure_loop() noexcept;
  // The running profile's links in their slots.
  DiversionPlan running_plan() const;
  // The timeline (the profile's schedules): started now, or kept when a reload leaves the
  // schedules as they were; each step is applied by the engine at its exact time
  // (Engine::commit_at), prepared a little ahead on this thread.
  void start_timeline(bool keep) noexcept;
  // The one place that says where the timeline's 0 is (start, restart, a reload that changes
  // the schedules): nothing paused, no step applied.
  void set_timeline_zero(TimePoint zero) noexcept;
  // When the timeline's time `t` comes on the loop's clock (the time paused so far added).
  TimePoint timeline_at(Duration t) const { return timeline_start_ + timeline_paused_for_ + t; }
  // The timeline's step prepared ahead (Engine::commit_at) that has not happened yet at `now`
  // is called off: the engine keeps the directions in force.
  void call_off_step(TimePoint now);
  void advance_timeline() noexcept;
  void arm_timeline() noexcept;
  // The part of prepare() that may take long, and the rest.
  struct Placed {
    Profile profile;
    std::vector<std::string> slots;
    DiversionPlan plan;
  };
  Placed place(Profile next) const;
  RuntimePlan finish_prepare(Placed placed, std::unique_ptr<DiversionChange> diversion);

  Profile profile_;
  uint64_t seed_;
  const Clock& clock_;
  LiveOptions options_;
  PacketPool pool_;
  std::vector<std::string> slots_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Diversion> diversion_;
  std::unique_ptr<LiveDriver> driver_;
  TimePoint started_{};
  std::optional<Timeline> timeline_;
  TimePoint timeline_start_{};
  int64_t timeline_start_unix_ns_ = 0;
  Duration timeline_paused_for_{0};              // paused since timeline_start_, resumed
  std::optional<TimePoint> timeline_paused_at_;  // paused now, since then
  Duration timeline_applied_{0};        // changes up to this time are in the engine's hands
  std::vector<LinkPhase> phases_;       // by profile link: as of timeline_applied_
  TimerFd timeline_timer_;
  size_t timeline_source_ = 0;
  struct OutageEnd {
    TimePoint at;
    uint16_t slot = 0;
    std::array<bool, kDirections> directions{};
    bool timeline = false;  // a schedule step's, running when the timeline was paused
  };
  std::vector<OutageEnd> outage_ends_;  // start_outage()'s and paused ones, until they end
  // By profile link and direction: a schedule step's outage that was running at a pause ends
  // at its own end (an OutageEnd); the timeline does not impose it again before this time.
  std::vector<std::array<std::optional<Duration>, kDirections>> outage_cut_;
  // The outages of link `link`'s phase at `t` for the engine (nullopt: as they are).
  std::array<std::optional<Outage>, kDirections> timeline_outages(size_t link,
                                                                  const LinkPhase& phase,
                                                                  Duration t) noexcept;
  // Each schedule outage running at a pause gets its own end, as if the timeline ran.
  void end_paused_outages(TimePoint now);
  TimerFd outage_timer_;
  size_t outage_source_ = 0;
  void end_outages() noexcept;
  FileDescriptor prepared_;  // an eventfd the background prepare writes when it is done
  size_t prepared_source_ = 0;
  std::future<std::unique_ptr<DiversionChange>> pending_;
  std::optional<Placed> pending_placed_;
};

}  // namespace badlink
