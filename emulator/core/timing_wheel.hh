// A hierarchical timing wheel (Varghese & Lauck) keyed on absolute 1 µs ticks: O(1) insert,
// empty slots skipped through per-level occupancy bitmaps, and exact expiry order — entries
// come out by (departure, seq), never rounded into a coarser bucket's order.
//
// BasicTimingWheel<T> holds any small payload (the benchmark compares it with std:: containers
// on equal terms); TimingWheel is the engine's wheel of packets.
//
// Level L holds entries whose tick shares every digit above L with current_ but differs at
// digit L (a digit is kLevelBits bits). So all of level L is due before any of level L+1, and
// the next event is the lowest occupied slot of the lowest non-empty level. Entering a new
// block at level L re-places that block's slot into the levels below (cascade).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "core/packet_list.hh"
#include "core/time.hh"

namespace badlink {

struct WheelStats {
  uint64_t late_slots = 0;    // occupied slots processed after their tick had passed
  uint64_t late_entries = 0;  // entries handed out one tick or more after theirs
  Duration max_lateness{0};   // worst (now - departure) seen at hand-out
  uint64_t cascades = 0;      // entries moved down a level
  uint64_t block_chunks = 0;  // times the entry storage grew
};

template <class T>
class BasicTimingWheel {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  static constexpr unsigned kLevelBits = 8;
  static constexpr unsigned kSlots = 1U << kLevelBits;
  static constexpr unsigned kLevels = (64 + kLevelBits - 1) / kLevelBits;  // every 64-bit tick

  struct Entry {
    int64_t departure;  // ns
    uint64_t seq;       // tie-break: equal departures leave in seq order
    T value;
  };

  explicit BasicTimingWheel(Duration resolution = std::chrono::microseconds(1))
      : resolution_ns_(std::max<int64_t>(1, resolution.count())) {
    chunks_.reserve(4096);
    scratch_.reserve(1024);
  }
  BasicTimingWheel(const BasicTimingWheel&) = delete;
  BasicTimingWheel& operator=(const BasicTimingWheel&) = delete;

  // Sets "now" before the first insert, so the first ticks need no cascade from the epoch.
  void start(TimePoint now) {
    if (!started_ && size_ == 0) {
      current_ = tick_of(to_nanos(now));
      started_ = true;
    }
  }

  // O(1). A departure whose tick was already processed is due at the next expire().
  void insert(TimePoint departure, uint64_t seq, T value) {
    started_ = true;
    place(Entry{to_nanos(departure), seq, value});
    ++size_;
  }

  // Calls visit(const Entry&) for every entry whose tick (departure rounded up to the
  // resolution) is at or before `now`, in (departure, seq) order; never before its departure.
  template <class Visit>
  void expire(TimePoint now, Visit&& visit) {
    if (!overdue_.empty()) {
      std::sort(overdue_.begin(), overdue_.end(), departs_before);
      size_ -= overdue_.size();
      ++stats_.late_slots;
      stats_.late_entries += overdue_.size();
      for (const Entry& e : overdue_) {
        visit(e);
      }
      overdue_.clear();
    }
    const int64_t now_ns = to_nanos(now);
    const uint64_t target = now_ns <= 0 ? 0
                            : resolution_ns_ == kDefaultResolutionNs
                                ? static_cast<uint64_t>(now_ns) / 1000U
                                : static_cast<uint64_t>(now_ns / resolution_ns_);
    if (!started_) {
      current_ = target;
      started_ = true;
    }
    while (current_ <= target) {
      if (size_ == 0) {
        current_ = target + 1;
        break;
      }
      const std::optional<uint64_t> next = next_event_tick();
      if (!next || *next > target) {
        break;
      }
      if ((*next ^ current_) < kSlots && slots_[0][digit(*next, 0)].head != nullptr) {
        take_slot(digit(*next, 0), now_ns, *next < target, visit);  // a level-0 tick: due now
        enter(*next + 1);
      } else {
        enter(*next);  // the start of a higher-level block: cascade it down and look again
      }
    }
  }

  // No later than the earliest tick at which expire() would hand something out: exact at the
  // lowest level, the start of the next occupied block above it (wake, cascade, ask again).
  std::optional<TimePoint> next_expiry() const {
    if (size_ == 0) {
      return std::nullopt;
    }
    if (!overdue_.empty()) {
      return from_nanos(static_cast<int64_t>(current_ - 1) * resolution_ns_);
    }
    const std::optional<uint64_t> tick = next_event_tick();
    if (!tick) {
      return std::nullopt;
    }
    return from_nanos(static_cast<int64_t>(*tick) * resolution_ns_);
  }

  // The earliest tick at which expire() would hand something out, exactly: at a level above
  // the lowest, the least departure among the entries of that block (read, not moved: they
  // cascade when the wheel gets there) -- for a caller about to sleep until then, which
  // next_expiry() would wake up to a block's span early. A block of more than
  // kExactScanLimit entries is not read: its start, as next_expiry().
  std::optional<TimePoint> next_expiry_exact() const {
    if (size_ == 0 || !overdue_.empty()) {
      return next_expiry();
    }
    const std::optional<NextEvent> e = next_event();
    if (!e) {
      return std::nullopt;
    }
    uint64_t tick = e->tick;
    if (e->level > 0) {
      int64_t least = INT64_MAX;
      size_t read = 0;
      for (const Block* b = slots_[e->level][e->slot].head; b != nullptr && read <= kExactScanLimit;
           b = b->next) {
        for (uint32_t i = 0; i < b->count; ++i) {
          least = std::min(least, b->entries[i].departure);
        }
        read += b->count;
      }
      if (read <= kExactScanLimit) {
        tick = tick_of(least);
      }
    }
    return from_nanos(static_cast<int64_t>(tick) * resolution_ns_);
  }
  static constexpr size_t kExactScanLimit = 256;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const WheelStats& stats() const { return stats_; }
  Duration resolution() const { return Duration{resolution_ns_}; }

 private:
  // Slots hold entries in blocks rather than a list through the payloads: a cascade then reads
  // contiguous memory and never touches a packet, which keeps it fast at a million pending
  // (a linked list through the packets costs a cache miss per hop).
  static constexpr uint32_t kBlockEntries = 20;
  static constexpr int64_t kDefaultResolutionNs = 1000;
  static constexpr size_t kBlocksPerChunk = 256;
  static constexpr uint64_t kDigitMask = kSlots - 1;

  struct Block {
    Block* next;
    uint32_t count;
    Entry entries[kBlockEntries];
  };
  struct Slot {
    Block* head = nullptr;
    Block* tail = nullptr;
  };

  static bool departs_before(const Entry& a, const Entry& b) {
    return a.departure < b.departure || (a.departure == b.departure && a.seq < b.seq);
  }
  static constexpr unsigned digit(uint64_t tick, unsigned level) {
    return static_cast<unsigned>((tick >> (level * kLevelBits)) & kDigitMask);
  }
  static constexpr uint64_t low_mask(unsigned bits) {
    return bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  }

  uint64_t tick_of(int64_t ns) const {
    // Rounded up: an entry is never handed out before its departure time. The 1 µs default is
    // divided by a constant (a multiply), since this runs on every insert and cascade.
    if (ns <= 0) {
      return 0;
    }
    const auto u = static_cast<uint64_t>(ns);
    if (resolution_ns_ == kDefaultResolutionNs) {
      return (u + kDefaultResolutionNs - 1) / kDefaultResolutionNs;
    }
    const auto r = static_cast<uint64_t>(resolution_ns_);
    return (u + r - 1) / r;
  }

  Block* new_block() {
    if (free_blocks_ == nullptr) {
      auto chunk = std::make_unique<Block[]>(kBlocksPerChunk);
      for (size_t i = 0; i < kBlocksPerChunk; ++i) {
        chunk[i].next = free_blocks_;
        free_blocks_ = &chunk[i];
      }
      chunks_.push_back(std::move(chunk));
      ++stats_.block_chunks;
    }
    Block* b = free_blocks_;
    free_blocks_ = b->next;
    b->next = nullptr;
    b->count = 0;
    return b;
  }

  void release_blocks(Block* head) {
    while (head != nullptr) {
      Block* next = head->next;
      head->next = free_blocks_;
      free_blocks_ = head;
      head = next;
    }
  }

  void set_occupied(unsigned level, unsigned index) {
    occupied_[level][index / 64] |= uint64_t{1} << (index % 64);
  }
  void clear_occupied(unsigned level, unsigned index) {
    occupied_[level][index / 64] &= ~(uint64_t{1} << (index % 64));
  }

  int next_occupied(unsigned level, unsigned from) const {
    for (unsigned word = from / 64; word < kSlots / 64; ++word) {
      uint64_t bits = occupied_[level][word];
      if (word == from / 64) {
        bits &= ~uint64_t{0} << (from % 64);
      }
      if (bits != 0) {
        return static_cast<int>(word * 64 + static_cast<unsigned>(std::countr_zero(bits)));
      }
    }
    return -1;
  }

  void place(const Entry& e) {
    const uint64_t tick = tick_of(e.departure);
    if (tick < current_) {
      overdue_.push_back(e);
      return;
    }
    const uint64_t diff = tick ^ current_;
    const unsigned level =
        diff < kSlots ? 0U : static_cast<unsigned>((63 - std::countl_zero(diff)) / kLevelBits);
    const unsigned index = digit(tick, level);
    Slot& slot = slots_[level][index];
    if (slot.tail == nullptr) {
      slot.head = slot.tail = new_block();
      set_occupied(level, index);
    } else if (slot.tail->count == kBlockEntries) {
      Block* b = new_block();
      slot.tail->next = b;
      slot.tail = b;
    }
    slot.tail->entries[slot.tail->count++] = e;
  }

  void cascade(unsigned level, unsigned index) {
    Slot& slot = slots_[level][index];
    Block* head = slot.head;
    slot.head = slot.tail = nullptr;
    clear_occupied(level, index);
    for (Block* b = head; b != nullptr; b = b->next) {
      for (uint32_t i = 0; i < b->count; ++i) {
        place(b->entries[i]);
      }
      stats_.cascades += b->count;
    }
    release_blocks(head);
  }

  void enter(uint64_t new_current) {
    current_ = new_current;
    // Every level whose block starts exactly here hands its slot down, highest first, so that
    // what lands in a lower level's current slot is handed down again.
    for (unsigned level = kLevels - 1; level >= 1; --level) {
      if ((new_current & low_mask(level * kLevelBits)) == 0) {
        const unsigned index = digit(new_current, level);
        if (slots_[level][index].head != nullptr) {
          cascade(level, index);
        }
      }
    }
  }

  template <class Visit>
  void take_slot(unsigned index, int64_t now_ns, bool late, Visit& visit) {
    Slot& slot = slots_[0][index];
    Block* head = slot.head;
    slot.head = slot.tail = nullptr;
    clear_occupied(0, index);
    const Entry* begin = head->entries;
    const Entry* end = head->entries + head->count;
    if (head->next == nullptr) {
      std::sort(head->entries, head->entries + head->count, departs_before);
    } else {
      scratch_.clear();
      for (Block* b = head; b != nullptr; b = b->next) {
        scratch_.insert(scratch_.end(), b->entries, b->entries + b->count);
      }
      std::sort(scratch_.begin(), scratch_.end(), departs_before);
      begin = scratch_.data();
      end = begin + scratch_.size();
    }
    const auto taken = static_cast<size_t>(end - begin);
    size_ -= taken;
    if (late) {
      ++stats_.late_slots;
      stats_.late_entries += taken;
    }
    stats_.max_lateness = std::max(stats_.max_lateness, Duration{now_ns - (end - 1)->departure});
    // Pointer payloads (packets) were last touched a whole delay ago and are cold: fetch a
    // few ahead so the visitor's cache misses overlap instead of queueing one after another.
    constexpr ptrdiff_t kAhead = 6;
    for (const Entry* e = begin; e != end; ++e) {
      if constexpr (std::is_pointer_v<T>) {
        if (end - e > kAhead) {
          __builtin_prefetch(e[kAhead].value, 1);
        }
      }
      visit(*e);
    }
    release_blocks(head);
  }

  // The start of the next occupied block at or after current_ (at level 0: the exact tick).
  // The next occupied slot: its tick (the start of its block above level 0), level and index.
  struct NextEvent {
    uint64_t tick;
    unsigned level;
    unsigned slot;
  };
  std::optional<NextEvent> next_event() const {
    const int slot0 = next_occupied(0, digit(current_, 0));
    if (slot0 >= 0) {
      return NextEvent{(current_ & ~kDigitMask) | static_cast<uint64_t>(slot0), 0,
                       static_cast<unsigned>(slot0)};
    }
    for (unsigned level = 1; level < kLevels; ++level) {
      const unsigned index = digit(current_, level);
      if (index == kDigitMask) {
        continue;
      }
      const int slot = next_occupied(level, index + 1);
      if (slot < 0) {
        continue;
      }
      const unsigned shift = level * kLevelBits;
      return NextEvent{
          (current_ & ~low_mask(shift + kLevelBits)) | (static_cast<uint64_t>(slot) << shift),
          level, static_cast<unsigned>(slot)};
    }
    return std::nullopt;
  }
  std::optional<uint64_t> next_event_tick() const {
    const std::optional<NextEvent> e = next_event();
    return e ? std::optional<uint64_t>(e->tick) : std::nullopt;
  }

  int64_t resolution_ns_;
  uint64_t current_ = 0;  // next tick not yet processed; every tick before it is done
  bool started_ = false;
  size_t size_ = 0;
  // Entries inserted for a tick already processed: due at the next expire(), ahead of the
  // whole wheel (their departures all precede every tick still in it).
  std::vector<Entry> overdue_;
  std::array<std::array<uint64_t, kSlots / 64>, kLevels> occupied_{};
  std::array<std::array<Slot, kSlots>, kLevels> slots_{};
  Block* free_blocks_ = nullptr;
  std::vector<std::unique_ptr<Block[]>> chunks_;
  std::vector<Entry> scratch_;  // sorting room for a slot spanning several blocks
  WheelStats stats_;
};

// The engine's wheel: packets keyed by p->departure, ties by p->seq.
class TimingWheel {
 public:
  using Stats = WheelStats;

  explicit TimingWheel(Duration resolution = std::chrono::microseconds(1)) : wheel_(resolution) {}

  void start(TimePoint now) { wheel_.start(now); }

  // The wheel owns the packet until expire() or drain() hands it back.
  void insert(Packet* p) { wheel_.insert(p->departure, p->seq, p); }

  // Every packet due at `now`, in (departure, seq) order.
  PacketList expire(TimePoint now) {
    PacketList out;
    wheel_.expire(now, [&out](const auto& e) { out.push_back(e.value); });
    return out;
  }

  // Removes and returns everything, in departure order (shutdown, end of replay).
  PacketList drain() {
    PacketList out;
    while (const auto next = wheel_.next_expiry()) {
      PacketList due = expire(*next);
      out.splice_back(due);
    }
    return out;
  }

  std::optional<TimePoint> next_expiry() const { return wheel_.next_expiry(); }
  std::optional<TimePoint> next_expiry_exact() const { return wheel_.next_expiry_exact(); }
  size_t size() const { return wheel_.size(); }
  bool empty() const { return wheel_.empty(); }
  const Stats& stats() const { return wheel_.stats(); }
  Duration resolution() const { return wheel_.resolution(); }

 private:
  BasicTimingWheel<Packet*> wheel_;
};

}  // namespace badlink
