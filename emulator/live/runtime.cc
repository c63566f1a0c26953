// Runtime: the engine, the diversion and the loop for a profile's links; see runtime.hh.
#include "live/runtime.hh"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

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

}  // namespace

RuntimePlan::~RuntimePlan() = default;

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
    d.configs = link.configs();
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
  started_ = clock_.now();
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
  engine_->commit(std::move(*plan.engine_));
  diversion_->commit(std::move(plan.diversion_));
  slots_ = std::move(plan.slots_);
  profile_ = std::move(plan.profile_);
  configure_loop();
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
      const DirectionConfig& c = l.direction(d);
      if (c.is_passthrough() && options_.dump == nullptr) {
        continue;
      }
      const Duration soonest = soonest_departure(c);
      slack = any ? std::min(*slack, soonest) : soonest;
      any = true;
      timing = timing || !c.is_passthrough();
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
  for (const DivertedLink& l : [&] {
         std::vector<std::string> slots = slots_;
         return plan_for(profile_, slots).links;
       }()) {
    LinkSnapshot& ls = s.links.emplace_back();
    ls.name = l.name;
    ls.slot = l.slot;
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      ls.directions[index_of(d)] = engine_->stats(l.slot, d);
    }
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
