// LiveDriver: receive -> submit -> (timer, spin) -> expire -> reinject, and the signal/timer
// events in between.
#include "divert/live_driver.hh"

#include <signal.h>

#include <cstdio>

#include "divert/packet_dump.hh"

namespace badlink {

namespace {

enum Tag : uint64_t { kBackendTag = 1, kWheelTag, kStatsTag, kSignalTag };

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
  epoll_.add(backend_.fd(), EPOLLIN, kBackendTag);
  epoll_.add(wheel_timer_.fd(), EPOLLIN, kWheelTag);
  epoll_.add(signals_.fd(), EPOLLIN, kSignalTag);
  if (options_.stats_interval.count() > 0) {
    stats_timer_.arm_periodic(options_.stats_interval);
    epoll_.add(stats_timer_.fd(), EPOLLIN, kStatsTag);
  }
  engine_.set_observer(this);
}

LiveDriver::~LiveDriver() { engine_.set_observer(nullptr); }

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
  return std::nullopt;
}

LiveEvent LiveDriver::run() {
  for (;;) {
    if (const auto event = take_pending()) {
      return *event;
    }
    const int timeout = backlog_ ? 0 : plan_wait();
    const auto events = epoll_.wait(timeout);
    ++stats_.wakeups;
    bool readable = backlog_;
    for (const epoll_event& e : events) {
      switch (e.data.u64) {
        case kBackendTag:
          readable = true;
          break;
        case kWheelTag:
          ++stats_.timer_wakeups;
          wheel_timer_.acknowledge();
          armed_.reset();
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
          break;
      }
    }
    if (readable) {
      receive_all();
    }
    send_due();
    backend_.flush();
  }
}

// Arms the wheel's timer for the next departure (early_wake ahead) and returns the epoll
// timeout: -1 to sleep until something happens, 0 when a departure is due now (after a spin).
int LiveDriver::plan_wait() {
  const std::optional<TimePoint> next = engine_.next_expiry();
  if (!next) {
    if (armed_) {
      wheel_timer_.disarm();
      armed_.reset();
    }
    return -1;
  }
  const TimePoint now = clock_.now();
  if (*next <= now + options_.early_wake) {
    if (*next > now) {
      ++stats_.spins;
      TimePoint t = now;
      while (t < *next) {
        cpu_relax();
        t = clock_.now();
      }
      stats_.spin_ns += static_cast<uint64_t>((t - now).count());
    }
    return 0;
  }
  const TimePoint wake = *next - options_.early_wake;
  if (armed_ != wake) {
    wheel_timer_.arm_at(wake);
    armed_ = wake;
  }
  return -1;
}

void LiveDriver::receive_all() {
  // Bounded, so that departures get their turn under a flood; what is left (in the socket or
  // already read into the backend's buffers, which epoll cannot see) is read next round.
  size_t total = 0;
  backlog_ = false;
  for (;;) {
    if (total >= kMaxPerWake) {
      backlog_ = true;
      break;
    }
    const size_t n = backend_.receive(batch_, pool_);
    if (n == 0) {
      break;
    }
    const TimePoint now = clock_.now();
    for (size_t i = 0; i < n; ++i) {
      // The kernel's stamp where the backend has one: the time spent waking up and reading
      // is then not added to the packet's delay.
      if (batch_[i]->arrival == TimePoint{} || batch_[i]->arrival > now) {
        batch_[i]->arrival = now;
      } else {
        stats_.read_latency.record(now - batch_[i]->arrival);
      }
      if (options_.dump != nullptr) {
        dump(*batch_[i]);
      }
      submit(batch_[i]);
    }
    if (options_.dump != nullptr) {
      std::fflush(options_.dump);
    }
    total += n;
    send_due();        // zero-delay packets, and departures that came due meanwhile
    backend_.flush();  // one verdict message per batch: the kernel's packets move on now
  }
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

void LiveDriver::send_due() {
  const TimePoint now = clock_.now();
  PacketList due = engine_.expire(now);
  due.consume([&](Packet* p) {
    stats_.lateness.record(now > p->departure ? now - p->departure : Duration{0});
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
