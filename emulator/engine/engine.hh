// The engine: one impairment pipeline per direction feeding one timing wheel. Replay and the
// live datapath drive it the same way: submit() each arriving packet, expire() at each
// wake-up, and send what comes back. No OS, no I/O, no allocation per packet.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "core/latency_histogram.hh"
#include "core/packet_list.hh"
#include "core/packet_pool.hh"
#include "core/timing_wheel.hh"
#include "engine/pipeline.hh"
#include "impairments/config.hh"

namespace badlink {

using DirectionConfigs = std::array<DirectionConfig, kDirections>;

class Engine {
 public:
  // `seed` feeds one generator per direction (see direction_seed()).
  Engine(const DirectionConfigs& configs, uint64_t seed, PacketPool& pool);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Takes the packet (consumed either way: scheduled, or dropped and returned to the pool).
  // Needs packet->arrival, address.direction, length, wire_length and l3_offset set.
  void submit(Packet* packet);

  // Every packet due at `now`, in departure order; the caller owns them (send, then release).
  // Counts them as sent and records their delay.
  PacketList expire(TimePoint now);

  // Everything still scheduled, in departure order (end of replay, orderly shutdown).
  PacketList drain();

  // When expire() next has something (never later than that); nullopt when nothing waits.
  std::optional<TimePoint> next_expiry() const { return wheel_.next_expiry(); }
  // The same, exactly (TimingWheel::next_expiry_exact): for a caller about to sleep until then.
  std::optional<TimePoint> next_expiry_exact() const { return wheel_.next_expiry_exact(); }

  // Replaces both pipelines at once; packets already scheduled keep their departure times.
  // The generators continue (no reseed), so a reload does not replay earlier decisions.
  void reconfigure(const DirectionConfigs& configs);

  // Told of duplicates and drops (nullptr: nobody listens). Not owned; must outlive its use.
  void set_observer(EngineObserver* observer) { observer_ = observer; }

  const DirectionStats& stats(Direction d) const { return stats_[index_of(d)]; }
  const TimingWheel::Stats& wheel_stats() const { return wheel_.stats(); }
  size_t pending() const { return wheel_.size(); }
  uint64_t seed() const { return seed_; }
  const DirectionConfig& config(Direction d) const { return pipelines_[index_of(d)]->config(); }

 private:
  PacketPool& pool_;
  uint64_t seed_;
  uint64_t next_seq_ = 0;
  EngineObserver* observer_ = nullptr;
  bool started_ = false;
  TimingWheel wheel_;
  std::array<Rng, kDirections> rngs_;
  std::array<std::unique_ptr<Pipeline>, kDirections> pipelines_;
  std::array<DirectionStats, kDirections> stats_{};
};

}  // namespace badlink
