// A hierarchical timing wheel (Varghese & Lauck) keyed on absolute 1 µs ticks: O(1) insert,
// empty slots skipped through per-level occupancy bitmaps, and exact expiry order — packets
// come out by (departure, seq), never rounded into a coarser bucket's order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/packet_list.hh"
#include "core/time.hh"

namespace badlink {

class TimingWheel {
 public:
  static constexpr unsigned kLevelBits = 6;
  static constexpr unsigned kSlots = 1U << kLevelBits;
  static constexpr unsigned kLevels = (64 + kLevelBits - 1) / kLevelBits;  // every 64-bit tick

  struct Stats {
    uint64_t late_slots = 0;    // occupied slots processed after their tick had passed
    uint64_t late_packets = 0;  // packets handed out one tick or more after theirs
    Duration max_lateness{0};   // worst (now - departure) seen at hand-out
    uint64_t cascades = 0;      // packets moved down a level
  };

  explicit TimingWheel(Duration resolution = std::chrono::microseconds(1));
  TimingWheel(const TimingWheel&) = delete;
  TimingWheel& operator=(const TimingWheel&) = delete;

  // Sets the wheel's notion of "now" before the first insert, so the first ticks need no
  // cascade from the epoch. Does nothing once packets were inserted or expired.
  void start(TimePoint now);

  // Schedules the packet at p->departure (ties broken by p->seq). A departure in the past is
  // due at the next expire(). The wheel owns the packet until expire() hands it back.
  void insert(Packet* p);

  // Every packet whose tick (departure rounded up to the resolution) is at or before `now`,
  // in (departure, seq) order. A packet never leaves before its departure time.
  PacketList expire(TimePoint now);

  // No later than the earliest tick at which expire() would return something: exact at the
  // lowest level, the start of the next occupied block above it (wake, cascade, ask again).
  std::optional<TimePoint> next_expiry() const;

  // Removes and returns everything, in departure order (used at shutdown and end of replay).
  PacketList drain();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Stats& stats() const { return stats_; }
  Duration resolution() const { return Duration{resolution_ns_}; }

 private:
  struct Slot {
    Packet* head = nullptr;
    Packet* tail = nullptr;
  };

  uint64_t tick_of(TimePoint t) const;
  void place(Packet* p, uint64_t tick);
  void enter(uint64_t new_current);
  void cascade(unsigned level, unsigned index);
  void take_slot(unsigned index, PacketList& out, TimePoint now, bool late);

  int64_t resolution_ns_;
  uint64_t current_ = 0;  // next tick not yet processed; every tick before it is done
  bool started_ = false;
  size_t size_ = 0;
  // Inserted with a tick already processed: due at the next expire(), ahead of the whole wheel
  // (their departures all precede every tick still in it).
  PacketList overdue_;
  std::array<uint64_t, kLevels> occupied_{};
  std::array<std::array<Slot, kSlots>, kLevels> slots_{};
  Stats stats_;
};

}  // namespace badlink
