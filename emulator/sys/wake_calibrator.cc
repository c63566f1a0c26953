// WakeCalibrator: a helper thread that stamps and writes an eventfd while the loop sleeps.
#include "sys/wake_calibrator.hh"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/clock.hh"
#include "core/rng.hh"
#include "sys/system_error.hh"

namespace badlink {

WakeCalibrator::WakeCalibrator(Duration period)
    : fd_(SystemCall("eventfd", ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC))),
      period_(period),
      thread_([this](std::stop_token stop) { run(std::move(stop)); }) {}

WakeCalibrator::~WakeCalibrator() {
  thread_.request_stop();  // wakes the helper's wait at once (stop-aware condition variable)
  thread_.join();
}

void WakeCalibrator::going_to_sleep() noexcept {
  cpu_.store(::sched_getcpu(), std::memory_order_relaxed);
  state_.store(kAsleep, std::memory_order_seq_cst);
}

std::optional<TimePoint> WakeCalibrator::woke() noexcept {
  const int64_t s = state_.exchange(kAwake, std::memory_order_seq_cst);
  if (s > 0) {
    return from_nanos(s);
  }
  return std::nullopt;
}

void WakeCalibrator::acknowledge() noexcept {
  uint64_t count = 0;
  (void)::read(fd_.fd(), &count, sizeof count);
}

void WakeCalibrator::run(std::stop_token stop) {
  // The loop's clock: a stamp it can subtract from its own reading on waking.
  const SteadyClock clock;
  Rng rng(static_cast<uint64_t>(clock.now().time_since_epoch().count()));
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    return;  // cannot tell CPUs apart: no samples, no correction
  }
  std::unique_lock lock(mutex_);
  bool wanted = false;
  while (!stop.stop_requested()) {
    // The next wait, uniform in [period / 2, period * 3 / 2).
    const auto p = static_cast<uint64_t>(period_.count());
    Duration wait{static_cast<int64_t>(p / 2 + rng.below(p))};
    if (!wanted) {
      wait *= kIdleSlowdown;
    }
    cv_.wait_for(lock, stop, wait, [] { return false; });  // returns early only on stop
    if (stop.stop_requested()) {
      break;
    }
    // Only while the loop has packets to time: an idle badlink is not woken for nothing.
    wanted = wanted_.exchange(false, std::memory_order_relaxed);
    if (!wanted) {
      continue;
    }
    // From another CPU only, as a packet's sender would: on the loop's own CPU the sample would
    // be this thread's remaining run time, not a wake-up. Moves off it (a sleeping loop's
    // CPU is idle, and the scheduler likes to wake this thread there).
    const int loop_cpu = cpu_.load(std::memory_order_relaxed);
    if (loop_cpu >= 0 && ::sched_getcpu() == loop_cpu) {
      cpu_set_t others = allowed;
      CPU_CLR(loop_cpu, &others);
      if (CPU_COUNT(&others) == 0 ||
          ::pthread_setaffinity_np(::pthread_self(), sizeof others, &others) != 0 ||
          ::sched_getcpu() == loop_cpu) {
        continue;
      }
    }
    int64_t expected = kAsleep;
    const int64_t stamp = clock.now().time_since_epoch().count();
    if (state_.compare_exchange_strong(expected, stamp, std::memory_order_seq_cst)) {
      pokes_.fetch_add(1, std::memory_order_relaxed);  // counted before the loop can see it
      const uint64_t one = 1;
      (void)::write(fd_.fd(), &one, sizeof one);
    }
  }
}

}  // namespace badlink
