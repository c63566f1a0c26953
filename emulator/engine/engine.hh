// The engine: one impairment pipeline per link and direction feeding one timing wheel. Replay
// and the live datapath drive it the same way: submit() each arriving packet, expire() at each
// wake-up, and send what comes back. No OS, no I/O, no allocation per packet.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/latency_histogram.hh"
#include "core/packet_list.hh"
#include "core/packet_pool.hh"
#include "core/timing_wheel.hh"
#include "engine/pipeline.hh"
#include "impairments/config.hh"

namespace badlink {

class Engine;

// One link's state in the engine. Its pipelines refer to its generators and counters, so it
// never moves (held by unique_ptr).
struct EngineLink {
  std::array<Rng, kDirections> rngs;
  std::array<DirectionStats, kDirections> stats{};
  std::array<std::unique_ptr<Pipeline>, kDirections> pipelines;
  // The pipelines the last change replaced: a packet that arrived before the change but is
  // submitted after it (read late) still goes through them, unless they queue.
  std::array<std::unique_ptr<Pipeline>, kDirections> previous;
};

// A reconfiguration built ahead by Engine::prepare (everything that allocates), applied by
// Engine::commit, which cannot fail.
class EngineChange {
 public:
  EngineChange(EngineChange&&) noexcept;
  EngineChange& operator=(EngineChange&&) noexcept;
  ~EngineChange();

 private:
  friend class Engine;
  EngineChange();
  std::vector<std::unique_ptr<EngineLink>> added_;
  // Outages to start or end with the change, by link and direction (nullopt: as they are).
  std::vector<std::array<std::optional<Outage>, kDirections>> outages_;  // links new to the engine, with their state
  std::vector<std::array<std::unique_ptr<Pipeline>, kDirections>> pipelines_;  // by link
};

class Engine {
 public:
  // One link per element, its index the link carried in each packet's address (address.link).
  // `seed` feeds one generator per link and direction: direction_seed(link_seed(seed, link)),
  // so link 0 draws as a one-link engine always has.
  Engine(std::span<const DirectionConfigs> links, uint64_t seed, PacketPool& pool);
  // A one-link engine.
  Engine(const DirectionConfigs& configs, uint64_t seed, PacketPool& pool)
      : Engine(std::span<const DirectionConfigs>(&configs, 1), seed, pool) {}
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Takes the packet (consumed either way: scheduled, or dropped and returned to the pool).
  // Needs packet->arrival, address.direction, address.link (< link_count()), length,
  // wire_length and l3_offset set.
  void submit(Packet* packet);

  // Every packet due at `now`, in departure order across all links; the caller owns them
  // (send, then release). Counts them as sent and records their delay.
  PacketList expire(TimePoint now);

  // Everything still scheduled, in departure order (end of replay, orderly shutdown).
  PacketList drain();

  // When expire() next has something (never later than that), a scheduled change counted;
  // nullopt when nothing waits.
  std::optional<TimePoint> next_expiry() const { return soonest(wheel_.next_expiry()); }
  // The same, exactly (TimingWheel::next_expiry_exact): for a caller about to sleep until then.
  std::optional<TimePoint> next_expiry_exact() const {
    return soonest(wheel_.next_expiry_exact());
  }

  // New pipelines for every link (`links` index = link; at least link_count() of them: a link
  // is never taken away, since packets of it may still be scheduled -- give one that is gone
  // a passthrough config). Links beyond link_count() are added with fresh state. Throws only
  // std::bad_alloc; the running engine is untouched. No submit() may come between prepare()
  // and its commit(): the state carried over is read at commit.
  EngineChange prepare(std::span<const DirectionConfigs> links);
  // Applies a prepared change; packets already scheduled keep their departure times. Each
  // link keeps its generators (no reseed: a reload does not replay earlier decisions), its
  // counters, its bottleneck backlog and its last departure.
  void commit(EngineChange change) noexcept;
  void reconfigure(std::span<const DirectionConfigs> links) { commit(prepare(links)); }

  // prepare(), with outages to start or end at the same moment (`outages` by link; nullopt:
  // as they are).
  EngineChange prepare(std::span<const DirectionConfigs> links,
                       std::span<const std::array<std::optional<Outage>, kDirections>> outages);
  // commit() at `at` exactly (a schedule's step): before the first packet that arrives at or
  // after it is taken, and before any expiry past it -- whenever the caller gets to it. One at
  // a time: a later call, or a commit(), replaces one that has not happened yet.
  void commit_at(EngineChange change, TimePoint at) noexcept;
  // When the change given to commit_at() happens, while it has not.
  std::optional<TimePoint> scheduled_change() const {
    return scheduled_ ? std::optional<TimePoint>(scheduled_at_) : std::nullopt;
  }
  void reconfigure(const DirectionConfigs& configs) {
    reconfigure(std::span<const DirectionConfigs>(&configs, 1));
  }

  // Time 0 of every delivery trace (a rate = { trace = ... }): the timeline's start, so that
  // traces and schedules keep in step. Unset, the first packet's arrival.
  void set_trace_epoch(TimePoint epoch) {
    trace_epoch_ = epoch;
    trace_epoch_set_ = true;
  }

  // An outage of one link's direction from `now` on (Outage::none ends it). Packets already
  // past the bottleneck keep their departure.
  void set_outage(size_t link, Direction d, Outage outage, TimePoint now) {
    links_[link]->pipelines[index_of(d)]->set_outage(outage, now, wheel_);
  }
  Outage outage(size_t link, Direction d) const {
    return links_[link]->pipelines[index_of(d)]->outage();
  }
  // Packets in one link's direction's bottleneck now (waiting and being served).
  size_t queued_packets(size_t link, Direction d) const {
    return links_[link]->pipelines[index_of(d)]->queued_packets();
  }
  uint64_t queued_bytes(size_t link, Direction d) const {
    return links_[link]->pipelines[index_of(d)]->queued_bytes();
  }

  // Told of duplicates and drops (nullptr: nobody listens). Not owned; must outlive its use.
  void set_observer(EngineObserver* observer) { observer_ = observer; }

  size_t link_count() const { return links_.size(); }
  const DirectionStats& stats(size_t link, Direction d) const {
    return links_[link]->stats[index_of(d)];
  }
  // Link 0's (a one-link engine's).
  const DirectionStats& stats(Direction d) const { return stats(0, d); }
  const TimingWheel::Stats& wheel_stats() const { return wheel_.stats(); }
  // Packets held: scheduled, and waiting in bottlenecks.
  size_t pending() const;
  uint64_t seed() const { return seed_; }
  const DirectionConfig& config(size_t link, Direction d) const {
    return links_[link]->pipelines[index_of(d)]->config();
  }
  const DirectionConfig& config(Direction d) const { return config(0, d); }

 private:
  Pipeline& pipeline_of(const Packet& p);
  // The pipeline a new packet goes through: the one in force when it arrived.
  Pipeline& arrival_pipeline_of(const Packet& p);
  std::optional<TimePoint> soonest(std::optional<TimePoint> t) const {
    if (!scheduled_) {
      return t;
    }
    return t && *t < scheduled_at_ ? t : std::optional<TimePoint>(scheduled_at_);
  }
  void apply_scheduled() noexcept;
  PacketList expire_wheel(TimePoint now);
  std::unique_ptr<EngineLink> make_slot(size_t link, const DirectionConfigs& configs);
  void account(const PacketList& list);

  PacketPool& pool_;
  uint64_t seed_;
  uint64_t next_seq_ = 0;
  EngineObserver* observer_ = nullptr;
  bool started_ = false;
  TimePoint latest_{};        // the latest arrival or expiry seen: the engine's "now"
  TimePoint changed_at_{};    // when the last change was committed (EngineLink::previous)
  uint64_t in_service_ = 0;  // bottleneck service events in the wheel (Bottleneck)
  TimePoint trace_epoch_{};  // delivery traces' time 0 (set_trace_epoch, else the first packet)
  bool trace_epoch_set_ = false;
  TimingWheel wheel_;
  std::vector<std::unique_ptr<EngineLink>> links_;
  // The per-packet path's view of links_: by link * kDirections + direction (refresh_flat()).
  std::vector<Pipeline*> flat_pipelines_;
  std::vector<DirectionStats*> flat_stats_;
  void refresh_flat() noexcept;
  size_t flat_index(const Packet& p) const {
    const size_t link = p.address.link < links_.size() ? p.address.link : 0;
    return link * kDirections + index_of(p.address.direction);
  }
  std::optional<EngineChange> scheduled_;  // commit_at()'s, until it happens
  PacketList early_;  // due before a change a submit() applied: out with the next expire()
  TimePoint scheduled_at_{};  // stable addresses: pipelines refer into them
};

}  // namespace badlink
