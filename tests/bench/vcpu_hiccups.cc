// How often this machine takes a CPU away from a program that never gives it up: one thread
// per CPU, pinned, reads CLOCK_MONOTONIC in a loop for S seconds and counts the gaps between
// consecutive reads by size. A gap is time the thread did not run (an interrupt, a softirq,
// another task, or the hypervisor running something else on the vCPU). BENCHMARKS.md uses it
// to say how much of the live precision's tail is the machine's rather than badlink's: a
// packet whose departure falls in such a gap on the CPU that has to send or receive it is
// late by what is left of the gap.
//
// Usage: vcpu_hiccups [SECONDS] [CPU ...]   (default: 10 s on every CPU)
#include <pthread.h>
#include <sched.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

#include "core/time.hh"

namespace {

constexpr std::array<int64_t, 7> kBoundsUs = {2, 5, 10, 20, 50, 100, 1000};
constexpr size_t kShareBound = 3;  // the share of time lost is printed for kBoundsUs[3], 20 us

int64_t now_ns() { return badlink::clock_ns(CLOCK_MONOTONIC); }

struct Result {
  std::array<uint64_t, kBoundsUs.size()> over{};    // gaps of at least kBoundsUs[i]
  std::array<int64_t, kBoundsUs.size()> lost_ns{};  // time in those gaps
  int64_t max_ns = 0;
  int64_t ran_ns = 0;
  bool pinned = false;
};

void measure(int cpu, double seconds, Result& r) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  r.pinned = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
  const int64_t start = now_ns();
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  int64_t last = start;
  while (last < end) {
    const int64_t t = now_ns();
    const int64_t gap = t - last;
    if (gap >= kBoundsUs[0] * 1000) {
      for (size_t i = 0; i < kBoundsUs.size() && gap >= kBoundsUs[i] * 1000; ++i) {
        ++r.over[i];
        r.lost_ns[i] += gap;
      }
      r.max_ns = gap > r.max_ns ? gap : r.max_ns;
    }
    last = t;
  }
  r.ran_ns = last - start;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::strtod(argv[1], nullptr) : 10.0;
  std::vector<int> cpus;
  for (int i = 2; i < argc; ++i) {
    cpus.push_back(std::atoi(argv[i]));
  }
  if (cpus.empty()) {
    for (unsigned c = 0; c < std::thread::hardware_concurrency(); ++c) {
      cpus.push_back(static_cast<int>(c));
    }
  }
  if (seconds <= 0 || seconds > 3600) {
    std::fprintf(stderr, "vcpu_hiccups: SECONDS must be in (0, 3600], got %s\n", argv[1]);
    return 2;
  }
  std::vector<Result> results(cpus.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < cpus.size(); ++i) {
    threads.emplace_back(measure, cpus[i], seconds, std::ref(results[i]));
  }
  for (std::thread& t : threads) {
    t.join();
  }
  std::printf("gaps between consecutive clock reads of a pinned spinning thread, per second\n");
  std::printf("cpu");
  for (const int64_t b : kBoundsUs) {
    std::printf("  >=%lldus", static_cast<long long>(b));
  }
  std::printf("  max_us  share_lost_in_gaps>=20us\n");
  for (size_t i = 0; i < cpus.size(); ++i) {
    const Result& r = results[i];
    if (!r.pinned) {
      std::fprintf(stderr, "vcpu_hiccups: could not pin to CPU %d\n", cpus[i]);
      return 1;
    }
    const double secs = static_cast<double>(r.ran_ns) / 1e9;
    std::printf("%3d", cpus[i]);
    for (const uint64_t n : r.over) {
      std::printf("  %8.1f", static_cast<double>(n) / secs);
    }
    std::printf(
        "  %6.1f  %.4f%%\n", static_cast<double>(r.max_ns) / 1e3,
        100.0 * static_cast<double>(r.lost_ns[kShareBound]) / static_cast<double>(r.ran_ns));
  }
  return 0;
}
