// Timing wheel vs std::priority_queue vs std::multimap (netem's rbtree) in one run, on equal
// terms: each holds (departure, seq, 8-byte payload) entries. N entries pending at uniform
// random delays in [0, 1 s]; each step advances time by 1 s / N, expires what is due (in exact
// (departure, seq) order) and re-inserts it with a fresh delay: one insert + one expire each.
#include <benchmark/benchmark.h>

#include <map>
#include <queue>
#include <vector>

#include "core/rng.hh"
#include "core/timing_wheel.hh"

namespace badlink {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

struct Workload {
  explicit Workload(int64_t pending) : n(pending), step(kSecond / pending) {}
  int64_t n;
  int64_t step;
  Rng rng{42};
  int64_t delay() { return static_cast<int64_t>(rng.below(kSecond)); }
};

void BM_TimingWheel(benchmark::State& state) {
  Workload w(state.range(0));
  BasicTimingWheel<uint64_t> wheel;
  int64_t now = kSecond;
  wheel.start(from_nanos(now));
  uint64_t seq = 0;
  for (int64_t i = 0; i < w.n; ++i) {
    wheel.insert(from_nanos(now + w.delay()), seq, seq);
    ++seq;
  }
  int64_t processed = 0;
  std::vector<uint64_t> due;
  due.reserve(4096);
  for (auto _ : state) {
    now += w.step;
    due.clear();
    wheel.expire(from_nanos(now), [&](const auto& e) { due.push_back(e.value); });
    processed += static_cast<int64_t>(due.size());
    for (uint64_t v : due) {
      wheel.insert(from_nanos(now + w.delay()), seq++, v);
    }
  }
  state.SetItemsProcessed(processed);
  state.counters["pending"] = static_cast<double>(wheel.size());
}

struct Entry {
  int64_t departure;
  uint64_t seq;
  uint64_t value;
  bool operator>(const Entry& o) const {
    return departure > o.departure || (departure == o.departure && seq > o.seq);
  }
};

void BM_PriorityQueue(benchmark::State& state) {
  Workload w(state.range(0));
  std::vector<Entry> storage;
  storage.reserve(static_cast<size_t>(w.n) + 1024);
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap(std::greater<>{},
                                                                      std::move(storage));
  int64_t now = kSecond;
  uint64_t seq = 0;
  for (int64_t i = 0; i < w.n; ++i) {
    heap.push({now + w.delay(), seq, seq});
    ++seq;
  }
  int64_t processed = 0;
  std::vector<Entry> due;
  for (auto _ : state) {
    now += w.step;
    due.clear();
    while (!heap.empty() && heap.top().departure <= now) {
      due.push_back(heap.top());
      heap.pop();
    }
    processed += static_cast<int64_t>(due.size());
    for (const Entry& e : due) {
      heap.push({now + w.delay(), seq++, e.value});
    }
  }
  state.SetItemsProcessed(processed);
  state.counters["pending"] = static_cast<double>(heap.size());
}

void BM_Multimap(benchmark::State& state) {
  Workload w(state.range(0));
  std::multimap<std::pair<int64_t, uint64_t>, uint64_t> tree;
  int64_t now = kSecond;
  uint64_t seq = 0;
  for (int64_t i = 0; i < w.n; ++i) {
    tree.emplace(std::make_pair(now + w.delay(), seq), seq);
    ++seq;
  }
  int64_t processed = 0;
  std::vector<uint64_t> due;
  for (auto _ : state) {
    now += w.step;
    due.clear();
    auto it = tree.begin();
    while (it != tree.end() && it->first.first <= now) {
      due.push_back(it->second);
      it = tree.erase(it);
    }
    processed += static_cast<int64_t>(due.size());
    for (uint64_t v : due) {
      tree.emplace(std::make_pair(now + w.delay(), seq++), v);
    }
  }
  state.SetItemsProcessed(processed);
  state.counters["pending"] = static_cast<double>(tree.size());
}

BENCHMARK(BM_TimingWheel)->Arg(1'000)->Arg(100'000)->Arg(1'000'000)->MinTime(1.0);
BENCHMARK(BM_PriorityQueue)->Arg(1'000)->Arg(100'000)->Arg(1'000'000)->MinTime(1.0);
BENCHMARK(BM_Multimap)->Arg(1'000)->Arg(100'000)->Arg(1'000'000)->MinTime(1.0);

}  // namespace
}  // namespace badlink
