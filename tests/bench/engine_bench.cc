// The whole engine on packets in memory: submit, expire, release, with a jitter + loss +
// duplicate profile; also counts heap allocations per packet once warm (counting operator new).
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "core/ip_headers.hh"
#include "engine/engine.hh"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

// Replacing the global allocation functions is how the bench counts allocations; GCC cannot
// see that this malloc/free pair is consistent.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace badlink {
namespace {

std::vector<std::byte> udp_packet(size_t total) {
  std::vector<std::byte> b(total);
  b[0] = std::byte{0x45};
  b[2] = static_cast<std::byte>(total >> 8);
  b[3] = static_cast<std::byte>(total & 0xff);
  b[8] = std::byte{64};
  b[9] = std::byte{17};
  b[12] = std::byte{192};
  b[14] = std::byte{2};
  b[15] = std::byte{1};
  b[16] = std::byte{198};
  b[17] = std::byte{51};
  b[18] = std::byte{100};
  b[19] = std::byte{2};
  b[24] = static_cast<std::byte>((total - 20) >> 8);
  b[25] = static_cast<std::byte>((total - 20) & 0xff);
  const IpHeaders h = parse_ip(b);
  fix_ipv4_checksum(b, h);
  fix_l4_checksum(b, h);
  return b;
}

DirectionConfig profile_for(int64_t which, int64_t state_delay_ms) {
  DirectionConfig c;
  if (which >= 1) {
    c.delay.delay = std::chrono::milliseconds(state_delay_ms);
    c.delay.jitter = std::chrono::milliseconds(2);
    c.delay.distribution = DelayDistribution::uniform;
    c.delay.keep_order = false;
    c.loss = BernoulliLoss{0.01};
    c.duplicate = 0.001;
  }
  if (which >= 2) {
    c.delay.distribution = DelayDistribution::normal;
    c.delay.keep_order = true;
    c.corrupt = 0.001;
  }
  return c;
}

// Arg 0: no impairment; 1: jitter + loss + duplicate (the profile); 2: plus normal
// distribution, keep_order and corruption. Virtual time advances 100 ns per packet and the
// engine is expired every 64 packets, as a batched datapath would.
void BM_Engine(benchmark::State& state) {
  const DirectionConfig c = profile_for(state.range(0), state.range(1));
  PacketPool pool;
  Engine engine(DirectionConfigs{c, c}, 1, pool);
  const auto bytes = udp_packet(64);
  pool.reserve(bytes.size(), 300'000);
  int64_t now = 1'000'000'000;
  uint64_t packets = 0;
  uint64_t allocations_at_warm = 0;
  auto step = [&] {
    for (int i = 0; i < 64; ++i) {
      Packet* p = pool.allocate(bytes.size());
      std::memcpy(p->data(), bytes.data(), bytes.size());
      p->length = p->wire_length = static_cast<uint32_t>(bytes.size());
      p->arrival = from_nanos(now);
      engine.submit(p);
      now += 100;
    }
    PacketList due = engine.expire(from_nanos(now));
    due.consume([&](Packet* p) { pool.release(p); });
  };
  for (int i = 0; i < 4000; ++i) {  // warm: fill the wheel to steady state (~12 ms)
    step();
  }
  allocations_at_warm = g_allocations.load();
  for (auto _ : state) {
    step();
    packets += 64;
  }
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.counters["allocs_per_packet"] =
      static_cast<double>(g_allocations.load() - allocations_at_warm) /
      static_cast<double>(packets);
  state.counters["pending"] = static_cast<double>(engine.pending());
}

BENCHMARK(BM_Engine)->Args({0, 0})->Args({1, 10})->Args({1, 1})->Args({2, 10})->MinTime(1.0);

}  // namespace
}  // namespace badlink
