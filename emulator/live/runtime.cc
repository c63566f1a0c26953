// Runtime: the engine, the diversion and the loop for a profile's links; see runtime.hh.
#include "live/runtime.hh"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <stdexcept>

#include "core/same_contents.hh"
#include "impairments/delay.hh"
#include "sys/system_error.hh"

namespace badlink {

namespace {

double millis(Duration d) { return static_cast<double>(d.count()) / 1e6; }

// The engine's configs by slot: a slot no link of the plan holds passes its packets on.
std::vector<DirectionConfigs> slot_configs(const DiversionPlan& plan, size_t slots) {
  std::vector<DirectionConfigs> configs(slots);
  for (const DivertedLink& l : plan.links) {
    configs[l.slot] = l.configs;
  }
  return configs;
}

// What the diversion must be ready for over a link's schedule: each direction impaired if any
// phase impairs it (an outage too), more than delays if any phase does more, the longest delay
// and largest queue of any -- so that a step changes only the engine, at its exact time.
DirectionConfigs envelope(const Link& link) {
  DirectionConfigs env = link.configs();
  for (const DirectionConfigs& phase : phases_of(link)) {
    for (size_t d = 0; d < kDirections; ++d) {
      DirectionConfig& e = env[d];
      const DirectionConfig& c = phase[d];
      e.delay.delay = std::max(e.delay.delay, c.delay.delay);
      e.delay.jitter = std::max(e.delay.jitter, c.delay.jitter);
      if (std::holds_alternative<std::monostate>(e.loss)) {
        e.loss = c.loss;
      }
      e.duplicate = std::max(e.duplicate, c.duplicate);
      e.reorder = std::max(e.reorder, c.reorder);
      e.corrupt = std::max(e.corrupt, c.corrupt);
      e.rate.bits_per_second = std::max(e.rate.bits_per_second, c.rate.bits_per_second);
      if (!e.rate.trace) {
        e.rate.trace = c.rate.trace;
      }
      e.queue.packets = std::max(e.queue.packets, c.queue.packets);
    }
  }
  for (const ScheduleStep& step : link.schedule.steps) {
    for (size_t d = 0; step.outage && d < kDirections; ++d) {
      if (step.outage->directions[d] && env[d].is_passthrough()) {
        env[d].delay.delay = std::chrono::microseconds(1);  // diverted, to be dropped or held
      }
    }
  }
  return env;
}

}  // namespace

RuntimePlan::~RuntimePlan() = default;

DiversionPlan Runtime::running_plan() const {
  std::vector<std::string> slots = slots_;  // the running profile's links are all placed
  return plan_for(profile_, slots);
}

DiversionPlan Runtime::plan_for(const Profile& profile, std::vector<std::string>& slots) {
  DiversionPlan plan;
  std::vector<std::string> placed = slots;
  for (std::string& name : placed) {
    // A slot whose link this profile no longer has is let go: its name is kept empty so that
    // a link of that name coming back later starts afresh in a new slot.
    if (std::none_of(profile.links.begin(), profile.links.end(),
                     [&](const Link& l) { return l.name == name; })) {
      name.clear();
    }
  }
  for (const Link& link : profile.links) {
    auto at = std::find(placed.begin(), placed.end(), link.name);
    if (at == placed.end()) {
      placed.push_back(link.name);
      at = placed.end() - 1;
    }
    DivertedLink d;
    d.name = link.name;
    d.slot = static_cast<uint16_t>(at - placed.begin());
    d.match = link.match;
    d.configs = Timeline({link}).empty() ? link.configs() : envelope(link);
    plan.links.push_back(std::move(d));
  }
  slots = std::move(placed);
  return plan;
}

Runtime::Runtime(Profile profile, uint64_t seed, const DiversionFactory& make_diversion,
                 const Clock& clock, SignalFd& signals, const LiveOptions& options)
    : profile_(std::move(profile)), seed_(seed), clock_(clock), options_(options) {
  pool_.reserve(1500, 4096);  // MTU-sized packets
  const DiversionPlan plan = plan_for(profile_, slots_);
  engine_ = std::make_unique<Engine>(slot_configs(plan, slots_.size()), seed_, pool_);
  diversion_ = make_diversion(plan);
  driver_ = std::make_unique<LiveDriver>(*engine_, diversion_->backend(), pool_, clock_, signals,
                                         options_);
  configure_loop();
  prepared_ = FileDescriptor(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!prepared_) {
    throw SystemError("eventfd", errno);
  }
  prepared_source_ = driver_->add_source(prepared_.fd());
  timeline_source_ = driver_->add_source(timeline_timer_.fd());
  outage_source_ = driver_->add_source(outage_timer_.fd());
  started_ = clock_.now();
  start_timeline(false);
}

LiveEvent Runtime::run() {
  for (;;) {
    const LiveEvent e = driver_->run();
    if (e.kind == LiveEvent::Kind::source && e.source == timeline_source_) {
      timeline_timer_.acknowledge();
      advance_timeline();
      continue;
    }
    if (e.kind == LiveEvent::Kind::source && e.source == outage_source_) {
      outage_timer_.acknowledge();
      end_outages();
      continue;
    }
    return e;
  }
}

namespace {

// Schedules that say the same (positions aside): a reload keeps such a timeline running.
bool same_schedules(const std::vector<Link>& a, const std::vector<Link>& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    const Schedule& x = a[i].schedule;
    const Schedule& y = b[i].schedule;
    if (a[i].name != b[i].name || x.repeat != y.repeat || x.steps.size() != y.steps.size() ||
        !(a[i].configs() == b[i].configs())) {
      return false;
    }
    for (size_t d = 0; d < kDirections; ++d) {
      const auto& s = a[i].traces[d];
      const auto& t = b[i].traces[d];
      if (!same_contents(s, t)) {
        return false;
      }
    }
    for (size_t j = 0; j < x.steps.size(); ++j) {
      const ScheduleStep& s = x.steps[j];
      const ScheduleStep& t = y.steps[j];
      const bool same_outage =
          s.outage.has_value() == t.outage.has_value() &&
          (!s.outage || (s.outage->duration == t.outage->duration &&
                         s.outage->mode == t.outage->mode &&
                         s.outage->directions == t.outage->directions));
      if (s.at != t.at || !(s.configs == t.configs) || !same_outage) {
        return false;
      }
    }
  }
  return true;
}

// How far ahead of a step the runtime prepares it (the engine applies it at its time).
constexpr Duration kStepLead = std::chrono::milliseconds(5);

constexpr const char* kNoSchedule =
    "no link has a schedule: the timeline runs a profile's [[schedule]] or [[link.schedule]] "
    "steps";

int64_t unix_now_ns() {
  timespec t{};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

}  // namespace

void Runtime::start_timeline(bool keep) noexcept {
  Timeline next(profile_.links);
  if (next.empty()) {
    timeline_.reset();
    timeline_paused_at_.reset();
    timeline_timer_.disarm();
    return;
  }
  if (!keep || !timeline_) {
    set_timeline_zero(clock_.now());
  }
  timeline_.emplace(std::move(next));
  // A kept timeline's step prepared ahead was replaced by the commit: it is prepared again.
  timeline_applied_ = std::min(timeline_applied_, *timeline_elapsed());
  outage_cut_.resize(profile_.links.size());
  // The phase in force now, at once (a step at 0 s, an outage from the start, or where a kept
  // timeline is).
  phases_.clear();
  std::vector<DirectionConfigs> configs(slots_.size());
  std::vector<std::array<std::optional<Outage>, kDirections>> outages(slots_.size());
  const DiversionPlan plan = running_plan();
  for (size_t i = 0; i < profile_.links.size(); ++i) {
    phases_.push_back(timeline_->phase(i, timeline_applied_));
    const uint16_t slot = plan.links[i].slot;
    configs[slot] = phases_.back().configs;
    outages[slot] = timeline_outages(i, phases_.back(), timeline_applied_);
  }
  try {
    engine_->commit(engine_->prepare(configs, outages));
  } catch (const std::exception& e) {
    spdlog::error("the schedule could not start: {}", e.what());
  }
  spdlog::info("timeline {}: its steps run from now (unix {} ns){}", keep ? "kept" : "started",
               timeline_start_unix_ns_, timeline_paused_at_ ? "; paused" : "");
  arm_timeline();
}

void Runtime::set_timeline_zero(TimePoint zero) noexcept {
  timeline_start_ = zero;
  engine_->set_trace_epoch(zero);  // delivery traces and schedules on one clock
  timeline_start_unix_ns_ = unix_now_ns() - (clock_.now() - zero).count();
  timeline_paused_for_ = Duration{0};
  timeline_paused_at_.reset();
  timeline_applied_ = Duration{0};
  outage_cut_.assign(profile_.links.size(), {});
  std::erase_if(outage_ends_, [](const OutageEnd& e) { return e.timeline; });
}

std::array<std::optional<Outage>, kDirections> Runtime::timeline_outages(size_t link,
                                                                         const LinkPhase& phase,
                                                                         Duration t) noexcept {
  std::array<std::optional<Outage>, kDirections> out{phase.outage[0], phase.outage[1]};
  for (size_t d = 0; d < kDirections; ++d) {
    std::optional<Duration>& cut = outage_cut_[link][d];
    if (cut && t < *cut) {
      out[d].reset();  // ended at its own end while paused, or ends so (an OutageEnd)
    } else {
      cut.reset();
    }
  }
  return out;
}

void Runtime::end_paused_outages(TimePoint now) {
  const Duration at = now - timeline_at(Duration{0});
  const DiversionPlan plan = running_plan();
  bool any = false;
  for (size_t i = 0; i < phases_.size(); ++i) {
    for (size_t d = 0; d < kDirections; ++d) {
      if (phases_[i].outage[d] == Outage::none || outage_cut_[i][d]) {
        continue;
      }
      // Where the timeline would end it: its first change after `at` with no outage there.
      std::optional<Duration> end = timeline_->next_change(at);
      for (int n = 0; n < 10'000 && end && timeline_->phase(i, *end).outage[d] != Outage::none;
           ++n) {
        end = timeline_->next_change(*end);
      }
      if (!end || timeline_->phase(i, *end).outage[d] != Outage::none) {
        continue;  // not found: it ends once the timeline goes on
      }
      outage_cut_[i][d] = *end;
      std::array<bool, kDirections> directions{};
      directions[d] = true;
      outage_ends_.push_back(OutageEnd{timeline_at(*end), plan.links[i].slot, directions, true});
      any = true;
    }
  }
  if (any) {
    end_outages();  // arms the timer for the soonest end
  }
}

std::optional<Duration> Runtime::timeline_elapsed() const {
  if (!timeline_) {
    return std::nullopt;
  }
  return timeline_paused_at_.value_or(clock_.now()) - timeline_at(Duration{0});
}

void Runtime::restart_timeline() {
  if (!timeline_) {
    throw std::logic_error(kNoSchedule);
  }
  start_timeline(false);  // every link's phase at 0 committed at once; a step ahead called off
}

void Runtime::call_off_step(TimePoint now) {
  const std::optional<TimePoint> pending = engine_->scheduled_change();
  if (!pending || *pending <= now) {
    return;  // none, or it has happened (the engine applies it before anything later)
  }
  std::vector<DirectionConfigs> configs(slots_.size());
  for (size_t s = 0; s < slots_.size(); ++s) {
    configs[s] = DirectionConfigs{engine_->config(s, Direction::outbound),
                                  engine_->config(s, Direction::inbound)};
  }
  engine_->commit(engine_->prepare(configs));  // replaces the one scheduled for later
  spdlog::info("the change at +{:.3f} s is called off: the timeline is paused before it",
               static_cast<double>(timeline_applied_.count()) / 1e9);
  // Where the timeline is, as if the step had not been prepared.
  timeline_applied_ = now - timeline_at(Duration{0});
  for (size_t i = 0; i < phases_.size(); ++i) {
    phases_[i] = timeline_->phase(i, timeline_applied_);
  }
}

void Runtime::pause_timeline() {
  if (!timeline_) {
    throw std::logic_error(kNoSchedule);
  }
  if (timeline_paused_at_) {
    throw std::logic_error("the timeline is paused already (resume it, or restart it)");
  }
  const TimePoint now = clock_.now();
  call_off_step(now);
  end_paused_outages(now);
  timeline_paused_at_ = now;
  timeline_timer_.disarm();
}

void Runtime::resume_timeline() {
  if (!timeline_) {
    throw std::logic_error(kNoSchedule);
  }
  if (!timeline_paused_at_) {
    throw std::logic_error("the timeline is running, not paused");
  }
  timeline_paused_for_ += clock_.now() - *timeline_paused_at_;
  timeline_paused_at_.reset();
  // A delivery trace served on through the pause (it is the link's capacity); from here it is
  // where the timeline is again.
  engine_->set_trace_epoch(timeline_at(Duration{0}));
  arm_timeline();
}

void Runtime::arm_timeline() noexcept {
  if (!timeline_ || timeline_paused_at_) {
    timeline_timer_.disarm();
    return;
  }
  if (const std::optional<TimePoint> pending = engine_->scheduled_change()) {
    timeline_timer_.arm_at(*pending + Duration{1});  // once it has happened, the next one
    return;
  }
  const std::optional<Duration> next = timeline_->next_change(timeline_applied_);
  if (!next) {
    timeline_timer_.disarm();
    return;
  }
  timeline_timer_.arm_at(timeline_at(*next) - kStepLead);
}

void Runtime::advance_timeline() noexcept {
  if (timeline_paused_at_) {
    return;
  }
  if (!timeline_ || engine_->scheduled_change()) {
    arm_timeline();
    return;
  }
  const std::optional<Duration> next = timeline_->next_change(timeline_applied_);
  if (!next) {
    return;
  }
  const DiversionPlan plan = running_plan();
  std::vector<DirectionConfigs> configs(slots_.size());
  std::vector<std::array<std::optional<Outage>, kDirections>> outages(slots_.size());
  for (size_t s = 0; s < slots_.size(); ++s) {
    configs[s] = DirectionConfigs{engine_->config(s, Direction::outbound),
                                  engine_->config(s, Direction::inbound)};
  }
  for (size_t i = 0; i < profile_.links.size(); ++i) {
    const LinkPhase phase = timeline_->phase(i, *next);
    const uint16_t slot = plan.links[i].slot;
    configs[slot] = phase.configs;
    outages[slot] = timeline_outages(i, phase, *next);
    if (phase.step != phases_[i].step || phase.cycle != phases_[i].cycle) {
      spdlog::info("link '{}': {} at +{:.3f} s", profile_.links[i].name,
                   phase.step ? fmt::format("step {} begins", *phase.step + 1)
                              : std::string("its own directions again"),
                   static_cast<double>(next->count()) / 1e9);
    }
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      if (phase.outage[index_of(d)] != phases_[i].outage[index_of(d)]) {
        spdlog::info("link '{}': {} {} at +{:.3f} s", profile_.links[i].name, to_string(d),
                     phase.outage[index_of(d)] == Outage::none ? "outage ends"
                     : phase.outage[index_of(d)] == Outage::hold
                         ? "outage begins (holding)"
                         : "outage begins (dropping)",
                     static_cast<double>(next->count()) / 1e9);
      }
    }
    phases_[i] = phase;
  }
  try {
    engine_->commit_at(engine_->prepare(configs, outages), timeline_at(*next));
  } catch (const std::exception& e) {
    spdlog::error("a schedule's step could not be prepared, so it is skipped: {}", e.what());
  }
  timeline_applied_ = *next;
  arm_timeline();
}

Runtime::~Runtime() {
  if (pending_.valid()) {
    pending_.wait();  // its change goes with it
  }
  // The loop first (it observes the engine), then the rules and queues, then the engine.
  driver_.reset();
  diversion_.reset();
}

Runtime::Placed Runtime::place(Profile next) const {
  if (next.links.empty()) {
    throw std::runtime_error("the profile has no link");
  }
  Placed placed;
  placed.slots = slots_;
  placed.plan = plan_for(next, placed.slots);
  if (placed.slots.size() > 0xffff) {
    throw std::runtime_error("too many links over the run");
  }
  placed.profile = std::move(next);
  return placed;
}

RuntimePlan Runtime::finish_prepare(Placed placed, std::unique_ptr<DiversionChange> diversion) {
  RuntimePlan plan;
  plan.diversion_ = std::move(diversion);
  // The engine last: its change reads the running state only at commit.
  plan.engine_.emplace(engine_->prepare(slot_configs(placed.plan, placed.slots.size())));
  plan.slots_ = std::move(placed.slots);
  plan.profile_ = std::move(placed.profile);
  return plan;
}

RuntimePlan Runtime::prepare(Profile next) {
  if (pending_.valid()) {
    throw std::logic_error("a reload is being prepared already");
  }
  Placed placed = place(std::move(next));
  std::unique_ptr<DiversionChange> diversion = diversion_->prepare(placed.plan);
  return finish_prepare(std::move(placed), std::move(diversion));
}

void Runtime::prepare_in_background(Profile next) {
  if (pending_.valid()) {
    throw std::logic_error("a reload is being prepared already");
  }
  pending_placed_.emplace(place(std::move(next)));
  Diversion* diversion = diversion_.get();
  const DiversionPlan* plan = &pending_placed_->plan;
  const int done = prepared_.fd();
  pending_ = std::async(std::launch::async, [diversion, plan, done]() {
    struct Signal {
      int fd;
      ~Signal() {
        const uint64_t one = 1;
        [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof one);
      }
    } signal{done};
    return diversion->prepare(*plan);
  });
}

RuntimePlan Runtime::take_prepared() {
  if (!pending_.valid()) {
    throw std::logic_error("no reload is being prepared");
  }
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t n = ::read(prepared_.fd(), &count, sizeof count);
  std::future<std::unique_ptr<DiversionChange>> pending = std::move(pending_);
  Placed placed = std::move(*pending_placed_);
  pending_placed_.reset();
  return finish_prepare(std::move(placed), pending.get());  // get() throws what prepare threw
}

void Runtime::commit(RuntimePlan plan) noexcept {
  const TimePoint began = clock_.now();
  const bool keep = same_schedules(profile_.links, plan.profile_.links);
  engine_->commit(std::move(*plan.engine_));
  diversion_->commit(std::move(plan.diversion_));
  slots_ = std::move(plan.slots_);
  profile_ = std::move(plan.profile_);
  configure_loop();
  start_timeline(keep);
  // A commit is meant to cost the loop microseconds; one that did not says so, since packets
  // due meanwhile left late.
  const Duration held = clock_.now() - began;
  if (held > std::chrono::milliseconds(2)) {
    spdlog::warn("the change held the packet loop {:.1f} ms: packets due meanwhile left late",
                 millis(held));
  }
}

void Runtime::configure_loop() noexcept {
  bool timing = false;
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    // Packets with the kernel's arrival stamp need not be read when they come: when every
    // link delays each packet of this direction by at least a millisecond, the loop need not
    // watch its queues between departures (LiveDriver::set_arrival_slack). A link that
    // changes nothing is passed on by the backend, unless --dump shows it.
    constexpr Duration kLeast = std::chrono::milliseconds(1);
    const DirectionTraits traits = diversion_->traits(d);
    std::optional<Duration> slack;
    bool any = false;
    for (const Link& l : profile_.links) {
      for (const DirectionConfigs& phase : phases_of(l)) {  // every step's too
        const DirectionConfig& c = phase[index_of(d)];
        if (c.is_passthrough() && options_.dump == nullptr) {
          continue;
        }
        const Duration soonest = soonest_departure(c);
        slack = any ? std::min(*slack, soonest) : soonest;
        any = true;
        timing = timing || !c.is_passthrough();
      }
      for (const ScheduleStep& step : l.schedule.steps) {
        if (step.outage && step.outage->directions[index_of(d)]) {
          timing = true;  // a hold's end is a departure to time
        }
      }
    }
    if (!traits.kernel_stamped || !slack || *slack < kLeast) {
      slack.reset();
    }
    // Host mode's inbound is read while the loop spins before the departures: the application
    // a departure wakes often runs on the loop's CPU, and only once the loop sleeps.
    driver_->set_arrival_slack(d, slack, traits.local_receiver);
    if (slack) {
      spdlog::info("{}: every packet is delayed {:.2f} ms or more: its queue is read at departures",
                   to_string(d), millis(*slack));
    }
  }
  driver_->set_timing_needed(timing);
}

void Runtime::start_outage(const std::string& link, const OutageStep& outage) {
  const DiversionPlan plan = running_plan();
  const auto it = std::find_if(plan.links.begin(), plan.links.end(),
                               [&](const DivertedLink& l) { return l.name == link; });
  if (it == plan.links.end()) {
    throw std::out_of_range("no link '" + link + "'");
  }
  const TimePoint now = clock_.now();
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    if (outage.directions[index_of(d)]) {
      engine_->set_outage(it->slot, d, outage.mode, now);
    }
  }
  outage_ends_.push_back(OutageEnd{now + outage.duration, it->slot, outage.directions});
  driver_->set_timing_needed(true);  // a hold's end is a departure to time
  end_outages();                     // arms the timer for the soonest end
}

void Runtime::end_outages() noexcept {
  const TimePoint now = clock_.now();
  std::optional<TimePoint> next;
  for (auto it = outage_ends_.begin(); it != outage_ends_.end();) {
    if (it->at <= now) {
      for (const Direction d : {Direction::outbound, Direction::inbound}) {
        if (it->directions[index_of(d)] && it->slot < engine_->link_count()) {
          engine_->set_outage(it->slot, d, Outage::none, it->at);
        }
      }
      spdlog::info("an outage ends");
      it = outage_ends_.erase(it);
    } else {
      next = next ? std::min(*next, it->at) : it->at;
      ++it;
    }
  }
  if (next) {
    outage_timer_.arm_at(*next);
  } else {
    outage_timer_.disarm();
    configure_loop();  // whether the loop still has departures to time
  }
}

void Runtime::finish() {
  if (pending_.valid()) {
    pending_.wait();
    try {
      pending_.get();  // the prepared change is dropped: what it put in goes
    } catch (const std::exception& e) {
      spdlog::debug("the reload under way at stop failed: {}", e.what());
    }
    pending_placed_.reset();
  }
  diversion_->stop();
  driver_->finish();
}

RuntimeSnapshot Runtime::snapshot() const {
  RuntimeSnapshot s;
  s.profile = profile_.name;
  s.source = profile_.source;
  s.seed = seed_;
  s.uptime_s = static_cast<double>((clock_.now() - started_).count()) / 1e9;
  for (const DivertedLink& l : running_plan().links) {
    LinkSnapshot& ls = s.links.emplace_back();
    ls.name = l.name;
    ls.slot = l.slot;
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      ls.directions[index_of(d)] = engine_->stats(l.slot, d);
      ls.outage[index_of(d)] = engine_->outage(l.slot, d);
      ls.queued_packets[index_of(d)] = engine_->queued_packets(l.slot, d);
      ls.queued_bytes[index_of(d)] = engine_->queued_bytes(l.slot, d);
    }
    const size_t i = s.links.size() - 1;
    if (timeline_ && i < phases_.size()) {
      ls.step = phases_[i].step;
      ls.cycle = phases_[i].cycle;
      ls.row = phases_[i].row;
      for (const Direction d : {Direction::outbound, Direction::inbound}) {
        const auto& trace = engine_->config(l.slot, d).rate.trace;
        if (trace && trace->period().count() > 0) {
          const Duration since = clock_.now() - timeline_at(Duration{0});
          ls.trace_position_ms[index_of(d)] =
              static_cast<double>((since % trace->period()).count()) / 1e6;
        }
      }
    }
  }
  if (timeline_) {
    s.timeline_started_unix_ns = timeline_start_unix_ns_;
    s.timeline_paused = timeline_paused_at_.has_value();
    s.timeline_elapsed_ns = timeline_elapsed()->count();
  }
  s.backend = diversion_->backend().stats();
  s.diversion = diversion_->report();
  if (s.diversion.send_path != nullptr) {
    s.send_path = *s.diversion.send_path;
    s.diversion.send_path = nullptr;  // the copy is the snapshot's; the original is the loop's
  }
  s.loop = driver_->stats();
  s.pool_in_use = pool_.in_use();
  s.pool_bytes = pool_.bytes_reserved();
  s.pool_chunks = pool_.chunk_allocations();
  return s;
}

}  // namespace badlink
