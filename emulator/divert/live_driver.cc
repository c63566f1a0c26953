// LiveDriver: receive -> submit -> (timer, spin) -> expire -> reinject, and the signal/timer
// events in between.
#include "divert/live_driver.hh"

#include <signal.h>

#include <algorithm>
#include <cstdio>

#include "divert/packet_dump.hh"

namespace badlink {

namespace {

enum Tag : uint64_t {
  kBackendTag = 1,
  kStatsTag,
  kSignalTag,
  kCalibratorTag,
  kDepartureTag,
  kSourceTag  // add_source()'s descriptors: kSourceTag + their number
};

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

LiveDriver::LiveDriver(Engine& engine, DivertBackend& backend, PacketPool& pool, const Clock& clock,
                       SignalFd& signals, const LiveOptions& options)
    : engine_(engine),
      backend_(backend),
      pool_(pool),
      clock_(clock),
      signals_(signals),
      options_(options) {
  stats_.early_wake =
      std::clamp(options.early_wake, options.min_early_wake, options.max_early_wake);
  spin_tokens_ns_ = options_.spin_burst.count();
  spin_refilled_ = clock_.now();
  const int out_fd = backend_.fd(Direction::outbound);
  const int in_fd = backend_.fd(Direction::inbound);
  shared_fd_ = out_fd == in_fd;
  // Every set has the backend descriptors it does not leave, and everything else.
  const auto add_backend = [&](unsigned left, int fd, Direction d) {
    if (fd >= 0 && (left & (1U << index_of(d))) == 0) {
      epolls_[left].add(fd, EPOLLIN, kBackendTag);
    }
  };
  for (unsigned left = 0; left < epolls_.size(); ++left) {
    add_backend(left, out_fd, Direction::outbound);
    if (!shared_fd_) {
      add_backend(left, in_fd, Direction::inbound);
    }
  }
  const auto add_everywhere = [&](int fd, uint64_t tag) {
    for (Epoll& e : epolls_) {
      e.add(fd, EPOLLIN, tag);
    }
  };
  add_everywhere(signals_.fd(), kSignalTag);
  add_everywhere(departure_timer_.fd(), kDepartureTag);
  if (options_.stats_interval.count() > 0) {
    stats_timer_.arm_periodic(options_.stats_interval);
    add_everywhere(stats_timer_.fd(), kStatsTag);
  }
  if (options_.wake_calibration.count() > 0) {
    calibrator_.emplace(options_.wake_calibration);
    add_everywhere(calibrator_->fd(), kCalibratorTag);
  }
  engine_.set_observer(this);
  if (options_.priority && options_.apply_nice) {
    governor_.emplace(*options_.priority);
    stats_.nice = governor_->nice();
  }
}

LiveDriver::~LiveDriver() { engine_.set_observer(nullptr); }

void LiveDriver::set_arrival_slack(Direction d, std::optional<Duration> slack,
                                   bool read_while_spinning) {
  arrival_slack_[index_of(d)] = slack;
  spin_read_[index_of(d)] = read_while_spinning;
}

// A wait of `timeout` may leave a direction's descriptor unwatched when everything of it that
// may have come since the queue was last seen empty leaves no sooner than that moment plus its
// slack, with room to spare for a late timer and the spin's lead.
unsigned LiveDriver::unwatched_directions(std::optional<Duration> timeout) const {
  if (!timeout || timeout->count() <= 0 || !planned_wake_) {
    return 0;
  }
  return unwatched_until(*planned_wake_, *timeout);
}

unsigned LiveDriver::unwatched_until(TimePoint wake, Duration timeout) const {
  if (timeout > options_.max_unwatched_wait || backlog_) {
    return 0;
  }
  const Duration margin = 2 * options_.max_early_wake + std::chrono::microseconds(100);
  unsigned left = 0;
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    const std::optional<Duration>& slack = arrival_slack_[index_of(d)];
    if (slack && wake + margin <= quiet_since_ + *slack) {
      left |= 1U << index_of(d);
    }
  }
  constexpr unsigned kBoth = 3;
  return shared_fd_ && left != kBoth ? 0 : left;
}

// After the departures of an unwatched wake-up, what came meanwhile may wait for the spin
// before the next departure (which reads the queue, set_arrival_slack's read_while_spinning)
// when every direction with slack is read there and the wait until then may leave them all
// unwatched. The loop then sleeps straight after the departures. A spin too short to read
// (a late timer) defers it again, up to kMaxReadDeferral since the queue was last seen empty:
// what came since then is read at once, a few packets rather than a delay's worth in one go.
bool LiveDriver::read_in_next_spin(std::optional<TimePoint> next, TimePoint now) {
  const Duration lead = stats_.early_wake;
  if (!next || lead < 2 * options_.spin_read_margin || *next - lead <= now ||
      now - quiet_since_ > kMaxReadDeferral || !may_spin(now)) {
    return false;
  }
  unsigned slack = 0;
  for (size_t d = 0; d < kDirections; ++d) {
    if (arrival_slack_[d]) {
      if (!spin_read_[d]) {
        return false;
      }
      slack |= 1U << d;
    }
  }
  return slack != 0 && unwatched_until(*next - lead, *next - lead - now) == slack;
}

void LiveDriver::set_timing_needed(bool needed) {
  if (governor_) {
    apply_nice(governor_->set_timing_needed(needed));
  }
}

void LiveDriver::govern_priority(TimePoint now) {
  if (!governor_) {
    return;
  }
  const uint64_t received = backend_.received();
  const uint64_t read = received - governed_received_;
  governed_received_ = received;
  const Duration late = latest_since_governed_;
  latest_since_governed_ = Duration{0};
  apply_nice(governor_->observe(now, read, late));
}

void LiveDriver::apply_nice(std::optional<int> nice) {
  if (!nice) {
    return;
  }
  stats_.floods = governor_->floods();
  stats_.late_raises = governor_->late_raises();
  if (!options_.apply_nice(*nice)) {
    governor_.reset();  // the weight stays where it is; apply_nice said why
    return;
  }
  stats_.nice = *nice;
  ++stats_.nice_changes;
}

void LiveDriver::duplicated(const Packet& /*original*/) { ++copies_alive_; }

void LiveDriver::dropped(const Packet& /*packet*/) { --copies_alive_; }

std::optional<LiveEvent> LiveDriver::take_pending() {
  for (const LiveEvent::Kind k : {LiveEvent::Kind::stop, LiveEvent::Kind::reload,
                                  LiveEvent::Kind::write_stats, LiveEvent::Kind::stats_tick}) {
    const auto i = static_cast<size_t>(k);
    if (pending_[i]) {
      pending_[i] = false;
      return LiveEvent{k, pending_signal_[i]};
    }
  }
  for (size_t i = 0; i < pending_sources_.size(); ++i) {
    if (pending_sources_[i]) {
      pending_sources_[i] = false;
      return LiveEvent{LiveEvent::Kind::source, 0, i};
    }
  }
  return std::nullopt;
}

size_t LiveDriver::add_source(int fd) {
  const size_t number = pending_sources_.size();
  for (Epoll& e : epolls_) {
    e.add(fd, EPOLLIN, kSourceTag + number);
  }
  pending_sources_.push_back(false);
  return number;
}

LiveEvent LiveDriver::run() {
  for (;;) {
    if (const auto event = take_pending()) {
      return *event;
    }
    refresh_send_leads();
    const std::optional<Duration> timeout =
        backlog_ || backend_.buffered() ? Duration{0} : plan_wait();
    const bool sleeps = !timeout || timeout->count() > 0;
    const unsigned unwatched = unwatched_directions(timeout);
    if (calibrator_ && sleeps) {
      calibrator_->going_to_sleep();
    }
    stats_.unwatched_waits += unwatched != 0 ? 1 : 0;
    // A wait until a departure ends with the departure timer, which plan_wait armed for
    // planned_wake_ (often before the departures just sent): epoll itself arms no timer.
    const auto events = epolls_[unwatched].wait(sleeps ? std::nullopt : timeout);
    const TimePoint woke = clock_.now();
    // The calibrator's poke during this sleep, if it made one (TimePoint{}: none).
    const TimePoint poked =
        calibrator_ && sleeps ? calibrator_->woke().value_or(TimePoint{}) : TimePoint{};
    ++stats_.wakeups;
    next_arrival_.reset();
    timer_expired_.reset();
    bool timer_fired = false;
    for (const epoll_event& e : events) {
      if (e.data.u64 == kDepartureTag) {
        departure_timer_.acknowledge();
        armed_.reset();
        timer_fired = true;
      }
    }
    if (timer_fired && planned_wake_) {
      // The wait ran out: the departure timer. How late it woke steers the lead.
      ++stats_.timer_wakeups;
      const Duration late = woke > *planned_wake_ ? woke - *planned_wake_ : Duration{0};
      stats_.timer_lateness.record(late);
      learn_timer_lateness(late);
      // A packet queued after the timer fired, while the loop was being woken, is not
      // reported (epoll's wake-up already ran); it is the next one read, and it came before
      // that read, which follows the departures now due.
      timer_expired_ = planned_wake_;
    }
    planned_wake_.reset();
    // An unwatched queue is read at every wake-up, once the departures it was for are out
    // (plan_wait): what came meanwhile is due later, and reading it first could make them late.
    read_after_departures_ = read_after_departures_ || unwatched != 0;
    bool readable = backlog_ || backend_.buffered();
    for (const epoll_event& e : events) {
      switch (e.data.u64) {
        case kBackendTag:
          readable = true;
          if (sleeps) {
            next_arrival_ = arrivals_.after_wake(woke, quiet_since_);
          }
          break;
        case kCalibratorTag:
          calibrator_->acknowledge();
          if (poked != TimePoint{} && events.size() == 1) {  // the poke alone woke the loop
            stats_.wake_latency.record(woke - poked);
            arrivals_.sample(woke - poked);
            stats_.wake_cost = arrivals_.wake_cost();
          }
          break;
        case kStatsTag:
          if (stats_timer_.acknowledge() > 0) {
            pending_[static_cast<size_t>(LiveEvent::Kind::stats_tick)] = true;
          }
          break;
        case kSignalTag:
          read_signals();
          break;
        default:
          if (e.data.u64 >= kSourceTag && e.data.u64 - kSourceTag < pending_sources_.size()) {
            pending_sources_[e.data.u64 - kSourceTag] = true;
          }
          break;
      }
    }
    if (readable) {
      receive_all();
    }
    send_due();
    backend_.flush();
    govern_priority(woke);
  }
}

// The wait before the next departure: nullopt to sleep until something happens, 0 when a
// departure is due now (after a spin), else until the lead (stats_.early_wake) before it.
std::optional<Duration> LiveDriver::plan_wait() {
  // Departures close together are sent one after the other from here, spinning between
  // them, and the wait for the next is planned straight after the last: no poll and read in
  // between, so the CPU is given up (to the application the packets wake) soonest. Bounded,
  // so that signals and a flood of arrivals still get their turn in the loop.
  const TimePoint started = clock_.now();
  for (;;) {
    const std::optional<TimePoint> next = next_send();
    const TimePoint now = clock_.now();
    if (read_after_departures_ && (!next || *next > now + stats_.early_wake) &&
        !read_in_next_spin(next, now)) {
      // The departures this wake-up was for are out: now what came while the queue was
      // unwatched (due later than them), then plan again.
      read_after_departures_ = false;
      receive_all();
      send_due();
      backend_.flush();
      continue;
    }
    if (!next) {
      return std::nullopt;
    }
    const bool spin = may_spin(now);
    const Duration lead = spin ? stats_.early_wake : Duration{0};
    if (*next > now + lead) {
      stats_.spin_limited += spin ? 0 : 1;
      planned_wake_ = *next - lead;
      stats_.armed_ahead += arm(*planned_wake_) ? 0 : 1;
      return *planned_wake_ - now;
    }
    if (now - started > kMaxSpinTurn) {
      return Duration{0};
    }
    if (*next > now + kArmAhead) {
      // The departures due then leave the wheel now, and the timer is armed for the wait
      // after them before they go: once they are out the loop sleeps with no timer left to
      // program. On a VM that programming (a trapped write of the timer's register) took 10
      // us here, and the application a departure wakes on this CPU waited through it.
      ++stats_.spins;
      const TimePoint at = *next;
      PacketList batch = engine_.expire(at + longest_send_lead_);
      if (const std::optional<TimePoint> after = next_send(); after && *after > at + lead) {
        arm(*after - lead);
      }
      TimePoint t = spin_until(at, clock_.now());
      while (t < at) {  // a packet read meanwhile was due sooner: it went first
        send_due();
        backend_.flush();
        t = spin_until(at, clock_.now());
      }
      send_list(batch, t);
    } else if (*next > now) {
      ++stats_.spins;
      spin_until(*next, now);
    }
    send_due();
    backend_.flush();
  }
}

bool LiveDriver::arm(TimePoint when) {
  if (armed_ == when) {
    return false;
  }
  departure_timer_.arm_at(when);
  armed_ = when;
  return true;
}

void LiveDriver::learn_timer_lateness(Duration late) {
  timer_late_ns_[timer_samples_ % kTimerWindow] = late.count();
  ++timer_samples_;
  if (timer_samples_ % (kTimerWindow / 4) != 0 || timer_samples_ < kTimerWindow) {
    return;
  }
  // Every quarter window: the 99th percentile of the last window, and a margin for the spin's
  // own first turn.
  std::array<int64_t, kTimerWindow> sorted = timer_late_ns_;
  const size_t k = kTimerWindow * 99 / 100;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(k), sorted.end());
  const Duration lead = Duration{sorted[k]} + std::chrono::microseconds(5);
  stats_.early_wake = std::clamp(lead, options_.min_early_wake, options_.max_early_wake);
}

// The last stretch before a departure, awake anyway: the queue is read on every turn, so a
// packet arriving now is stamped now rather than after the departure (a local sender's packet
// may carry no kernel stamp), and one that must leave sooner than `due` is not held up. What
// came while the queue was unwatched waits for after the departure, unless a direction asked
// to read it while spinning (set_arrival_slack) and at least spin_read_margin remain.
TimePoint LiveDriver::spin_until(TimePoint due, TimePoint now) {
  const TimePoint start = now;
  bool spin_reads = false;
  for (size_t d = 0; d < kDirections; ++d) {
    spin_reads = spin_reads || (arrival_slack_[d] && spin_read_[d]);
  }
  TimePoint t = now;
  while (t < due) {
    const bool may_read =
        !read_after_departures_ || (spin_reads && due - t >= options_.spin_read_margin);
    const size_t got = may_read ? receive_batch(t) : 0;
    if (may_read && got == 0) {
      read_after_departures_ = false;  // what came while unwatched is all read
    }
    if (got > 0) {
      // Their verdicts go now, while there is time: not in front of the departure.
      backend_.flush();
      const std::optional<TimePoint> next = next_send();
      if (next && *next < due) {
        due = *next;
      }
    } else {
      cpu_relax();
    }
    t = clock_.now();
  }
  stats_.spin_ns += static_cast<uint64_t>((t - start).count());
  spent_spinning(t - start);
  return t;
}

bool LiveDriver::may_spin(TimePoint now) {
  if (options_.max_spin_share >= 1.0) {
    return true;
  }
  const auto refill = static_cast<int64_t>(static_cast<double>((now - spin_refilled_).count()) *
                                           options_.max_spin_share);
  spin_tokens_ns_ = std::min(spin_tokens_ns_ + std::max<int64_t>(refill, 0),
                             static_cast<int64_t>(options_.spin_burst.count()));
  spin_refilled_ = now;
  return spin_tokens_ns_ > 0;
}

void LiveDriver::spent_spinning(Duration d) { spin_tokens_ns_ -= d.count(); }

// One batch from the backend into the engine; how many packets it held.
size_t LiveDriver::receive_batch(TimePoint before) {
  const size_t n = backend_.receive(batch_, pool_);
  if (n == 0) {
    quiet_since_ = before;
    next_arrival_.reset();
    timer_expired_.reset();
    return 0;
  }
  const TimePoint now = clock_.now();
  if (!next_arrival_ && timer_expired_) {
    // Read by now: a read that started earlier may have waited (the CPU taken away) while
    // the packet came.
    next_arrival_ = arrivals_.after_timer(*timer_expired_, now, quiet_since_);
  }
  for (size_t i = 0; i < n; ++i) {
    Packet& p = *batch_[i];
    // The kernel's stamp where the backend has one: the time spent waking up and reading
    // is then not added to the packet's delay. Without one, the first such packet read
    // after a wake-up arrived as next_arrival_ says (a stamped one of the other direction
    // may come first: the estimate is not its); any other, now. The estimate goes when the
    // queue is next seen empty, at the latest.
    if (p.arrival == TimePoint{}) {
      // Its arrival is when it is read: its direction must be watched.
      arrival_slack_[index_of(p.address.direction)].reset();
    }
    if (p.arrival != TimePoint{} && p.arrival <= now) {
      stats_.read_latency.record(now - p.arrival);
    } else {
      p.arrival = next_arrival_ ? std::min(*next_arrival_, now) : now;
      stats_.estimated_arrivals += next_arrival_ ? 1 : 0;
      if (calibrator_) {
        calibrator_->wanted();
      }
      next_arrival_.reset();
      timer_expired_.reset();
    }
    if (options_.dump != nullptr) {
      dump(p);
    }
    submit(&p);
  }
  if (options_.dump != nullptr) {
    std::fflush(options_.dump);
  }
  return n;
}

void LiveDriver::receive_all() {
  // Bounded, so that departures get their turn under a flood; what is left (in the socket or
  // already read into the backend's buffers, which epoll cannot see) is read next round.
  size_t total = 0;
  bool dense = false;
  backlog_ = false;
  for (;;) {
    if (total >= kMaxPerWake) {
      backlog_ = true;
      break;
    }
    const uint64_t before = backend_.received();
    receive_batch(clock_.now());
    // Packets passed on inside the backend (an empty direction) count as read here too.
    uint64_t read = backend_.received() - before;
    if (read == 0 && dense && may_spin(clock_.now())) {
      linger();
      read = backend_.received() - before;
    }
    if (read == 0) {
      break;
    }
    total += read;
    dense = dense || total >= kDenseRead;
    send_due();        // zero-delay packets, and departures that came due meanwhile
    backend_.flush();  // one verdict message per batch: the kernel's packets move on now
  }
}

// Dense traffic (this wake-up read a burst): the next packet is likely microseconds away, and
// sleeping and being woken again costs more than that (15–25 µs on a nested VM). Polls the
// queue for up to burst_linger, never past the next departure, until something comes.
void LiveDriver::linger() {
  const TimePoint start = clock_.now();
  TimePoint until = start + options_.burst_linger;
  if (const std::optional<TimePoint> next = next_send(); next && *next < until) {
    until = *next;
  }
  const uint64_t before = backend_.received();
  for (TimePoint t = start; t < until; t = clock_.now()) {
    receive_batch(t);
    if (backend_.received() != before) {
      break;
    }
    cpu_relax();
  }
  const Duration lingered = clock_.now() - start;
  stats_.linger_ns += static_cast<uint64_t>(lingered.count());
  spent_spinning(lingered);
}

void LiveDriver::submit(Packet* packet) {
  // Every drop and duplicate of a packet happens inside submit(), reported to this observer.
  // If no copy is left, a backend holding the kernel's verdict must answer it with a drop.
  const DivertAddress address = packet->address;
  copies_alive_ = 1;
  engine_.submit(packet);
  if (copies_alive_ <= 0) {
    ++stats_.dropped_copies;
    backend_.consume(address);
  }
}

void LiveDriver::refresh_send_leads() {
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    send_lead_[index_of(d)] = std::max(backend_.send_lead(d), Duration{0});
  }
  longest_send_lead_ = std::max(send_lead_[0], send_lead_[1]);
  stats_.send_lead = longest_send_lead_;  // reported only
}

std::optional<TimePoint> LiveDriver::next_send() const {
  // Exact: a lower bound (the start of a wheel block up to 256 us wide) would wake the loop,
  // or keep it spinning, for nothing.
  const std::optional<TimePoint> next = engine_.next_expiry_exact();
  return next ? std::optional<TimePoint>(*next - longest_send_lead_) : std::nullopt;
}

// Each packet goes to the backend its send lead before its departure, so that it reaches the
// wire at that time. Taken from the wheel in departure order with the longest lead; one of a
// direction with a shorter lead may then have microseconds to wait, spent here.
void LiveDriver::send_due() {
  const TimePoint now = clock_.now();
  PacketList due = engine_.expire(now + longest_send_lead_);
  send_list(due, now);
}

void LiveDriver::send_list(PacketList& due, TimePoint now) {
  due.consume([&](Packet* p) {
    const TimePoint at = p->departure - send_lead_[index_of(p->address.direction)];
    while (at > now) {
      cpu_relax();
      now = clock_.now();
    }
    stats_.lateness.record(now - at);
    latest_since_governed_ = std::max(latest_since_governed_, now - at);
    backend_.reinject(*p);
    pool_.release(p);
  });
}

void LiveDriver::read_signals() {
  while (const std::optional<int> signal = signals_.read()) {
    LiveEvent::Kind kind = LiveEvent::Kind::stop;
    switch (*signal) {
      case SIGHUP:
        kind = LiveEvent::Kind::reload;
        break;
      case SIGUSR1:
        kind = LiveEvent::Kind::write_stats;
        break;
      default:
        kind = LiveEvent::Kind::stop;
        break;
    }
    pending_[static_cast<size_t>(kind)] = true;
    pending_signal_[static_cast<size_t>(kind)] = *signal;
  }
}

void LiveDriver::dump(const Packet& packet) {
  char line[256];
  const std::string_view text = format_dump_line(packet, std::span<char>(line, sizeof line - 1));
  line[text.size()] = '\n';
  std::fwrite(line, 1, text.size() + 1, options_.dump);
}

void LiveDriver::finish() {
  // Packets the kernel already handed over but the loop has not read: on at once, unimpaired.
  for (;;) {
    const size_t n = backend_.receive(batch_, pool_);
    if (n == 0) {
      break;
    }
    for (size_t i = 0; i < n; ++i) {
      backend_.pass(*batch_[i]);
      pool_.release(batch_[i]);
    }
  }
  PacketList rest = engine_.drain();
  rest.consume([&](Packet* p) {
    backend_.reinject(*p);
    pool_.release(p);
  });
  backend_.flush();
}

}  // namespace badlink
