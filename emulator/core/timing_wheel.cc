// Hierarchical timing wheel; see timing_wheel.hh for the contract.
//
// Level L holds packets whose tick shares every digit above L with current_ but differs at
// digit L (a digit is kLevelBits bits). So all of level L is due before any of level L+1, and
// the next event is the lowest occupied slot of the lowest non-empty level. Entering a new
// block at level L re-places that block's slot into the levels below (cascade).
#include "core/timing_wheel.hh"

#include <bit>

namespace badlink {

namespace {
constexpr uint64_t kDigitMask = TimingWheel::kSlots - 1;

constexpr unsigned digit(uint64_t tick, unsigned level) {
  return static_cast<unsigned>((tick >> (level * TimingWheel::kLevelBits)) & kDigitMask);
}
}  // namespace

void PacketList::sort_by_departure() {
  if (size_ < 2) {
    return;
  }
  bool sorted = true;
  for (Packet* p = head_; p->next != nullptr; p = p->next) {
    if (departs_before(*p->next, *p)) {
      sorted = false;
      break;
    }
  }
  if (sorted) {
    return;
  }
  // Bottom-up merge sort on the links (stable: equal keys keep list order, and seq breaks ties).
  Packet* list = head_;
  for (size_t width = 1;; width *= 2) {
    Packet* result = nullptr;
    Packet** result_tail = &result;
    size_t merges = 0;
    Packet* rest = list;
    while (rest != nullptr) {
      ++merges;
      Packet* a = rest;
      size_t a_len = 0;
      while (rest != nullptr && a_len < width) {
        rest = rest->next;
        ++a_len;
      }
      Packet* b = rest;
      size_t b_len = 0;
      while (rest != nullptr && b_len < width) {
        rest = rest->next;
        ++b_len;
      }
      while (a_len > 0 || b_len > 0) {
        Packet* take = nullptr;
        if (a_len == 0) {
          take = b;
          b = b->next;
          --b_len;
        } else if (b_len == 0 || !departs_before(*b, *a)) {
          take = a;
          a = a->next;
          --a_len;
        } else {
          take = b;
          b = b->next;
          --b_len;
        }
        *result_tail = take;
        result_tail = &take->next;
      }
    }
    *result_tail = nullptr;
    list = result;
    if (merges <= 1) {
      break;
    }
  }
  head_ = list;
  Packet* p = list;
  while (p->next != nullptr) {
    p = p->next;
  }
  tail_ = p;
}

TimingWheel::TimingWheel(Duration resolution) : resolution_ns_(resolution.count()) {
  if (resolution_ns_ <= 0) {
    resolution_ns_ = 1;
  }
}

uint64_t TimingWheel::tick_of(TimePoint t) const {
  const int64_t ns = to_nanos(t);
  if (ns <= 0) {
    return 0;
  }
  // Rounded up: a packet is never handed out before its departure time.
  return static_cast<uint64_t>((ns + resolution_ns_ - 1) / resolution_ns_);
}

void TimingWheel::start(TimePoint now) {
  if (!started_ && size_ == 0) {
    current_ = tick_of(now);
    started_ = true;
  }
}

void TimingWheel::place(Packet* p, uint64_t tick) {
  if (tick < current_) {
    overdue_.push_back(p);
    return;
  }
  const uint64_t diff = tick ^ current_;
  const unsigned level =
      diff < kSlots ? 0U : static_cast<unsigned>((63 - std::countl_zero(diff)) / kLevelBits);
  const unsigned index = digit(tick, level);
  Slot& slot = slots_[level][index];
  p->next = nullptr;
  if (slot.tail != nullptr) {
    slot.tail->next = p;
  } else {
    slot.head = p;
    occupied_[level] |= uint64_t{1} << index;
  }
  slot.tail = p;
}

void TimingWheel::insert(Packet* p) {
  started_ = true;
  place(p, tick_of(p->departure));
  ++size_;
}

void TimingWheel::cascade(unsigned level, unsigned index) {
  Slot& slot = slots_[level][index];
  Packet* p = slot.head;
  slot.head = slot.tail = nullptr;
  occupied_[level] &= ~(uint64_t{1} << index);
  while (p != nullptr) {
    Packet* next = p->next;
    place(p, tick_of(p->departure));
    ++stats_.cascades;
    p = next;
  }
}

void TimingWheel::enter(uint64_t new_current) {
  current_ = new_current;
  // Every level whose block starts exactly here hands its slot down, highest first, so that
  // what lands in a lower level's current slot is handed down again.
  for (unsigned level = kLevels - 1; level >= 1; --level) {
    const uint64_t below_mask = (level * kLevelBits >= 64)
                                    ? ~uint64_t{0}
                                    : ((uint64_t{1} << (level * kLevelBits)) - 1);
    if ((new_current & below_mask) == 0) {
      const unsigned index = digit(new_current, level);
      if ((occupied_[level] >> index) & 1U) {
        cascade(level, index);
      }
    }
  }
}

void TimingWheel::take_slot(unsigned index, PacketList& out, TimePoint now, bool late) {
  Slot& slot = slots_[0][index];
  PacketList here;
  for (Packet* p = slot.head; p != nullptr;) {
    Packet* next = p->next;
    here.push_back(p);
    p = next;
  }
  slot.head = slot.tail = nullptr;
  occupied_[0] &= ~(uint64_t{1} << index);
  size_ -= here.size();
  here.sort_by_departure();
  if (late) {
    stats_.late_packets += here.size();
  }
  if (here.front() != nullptr && now - here.front()->departure > stats_.max_lateness) {
    stats_.max_lateness = now - here.front()->departure;
  }
  out.splice_back(here);
}

PacketList TimingWheel::expire(TimePoint now) {
  PacketList out;
  if (!overdue_.empty()) {
    size_ -= overdue_.size();
    overdue_.sort_by_departure();
    ++stats_.late_slots;
    stats_.late_packets += overdue_.size();
    out.splice_back(overdue_);
  }
  const int64_t now_ns = to_nanos(now);
  const uint64_t target = now_ns <= 0 ? 0 : static_cast<uint64_t>(now_ns / resolution_ns_);
  if (!started_) {
    current_ = target;
    started_ = true;
  }
  while (current_ <= target) {
    if (size_ == 0) {
      current_ = target + 1;
      break;
    }
    // Lowest level first: level 0 may hold the current tick itself; above it only later slots.
    const unsigned index0 = digit(current_, 0);
    const uint64_t due0 = occupied_[0] & (~uint64_t{0} << index0);
    if (due0 != 0) {
      const auto slot = static_cast<unsigned>(std::countr_zero(due0));
      const uint64_t tick = (current_ & ~kDigitMask) | slot;
      if (tick > target) {
        break;
      }
      if (tick < target) {
        ++stats_.late_slots;
      }
      take_slot(slot, out, now, tick < target);
      enter(tick + 1);
      continue;
    }
    bool moved = false;
    for (unsigned level = 1; level < kLevels; ++level) {
      const unsigned index = digit(current_, level);
      if (index == kDigitMask) {
        continue;
      }
      const uint64_t later = occupied_[level] & (~uint64_t{0} << (index + 1));
      if (later == 0) {
        continue;
      }
      const auto slot = static_cast<unsigned>(std::countr_zero(later));
      const unsigned shift = level * kLevelBits;
      const uint64_t above_mask = (shift + kLevelBits >= 64)
                                      ? uint64_t{0}
                                      : ~((uint64_t{1} << (shift + kLevelBits)) - 1);
      const uint64_t block_start = (current_ & above_mask) | (uint64_t{slot} << shift);
      if (block_start > target) {
        return out;
      }
      enter(block_start);
      moved = true;
      break;
    }
    if (!moved) {
      break;
    }
  }
  return out;
}

std::optional<TimePoint> TimingWheel::next_expiry() const {
  if (size_ == 0) {
    return std::nullopt;
  }
  if (!overdue_.empty()) {
    return from_nanos(static_cast<int64_t>(current_ - 1) * resolution_ns_);
  }
  const unsigned index0 = digit(current_, 0);
  const uint64_t due0 = occupied_[0] & (~uint64_t{0} << index0);
  if (due0 != 0) {
    const uint64_t tick = (current_ & ~kDigitMask) | static_cast<unsigned>(std::countr_zero(due0));
    return from_nanos(static_cast<int64_t>(tick) * resolution_ns_);
  }
  for (unsigned level = 1; level < kLevels; ++level) {
    const unsigned index = digit(current_, level);
    if (index == kDigitMask) {
      continue;
    }
    const uint64_t later = occupied_[level] & (~uint64_t{0} << (index + 1));
    if (later == 0) {
      continue;
    }
    const unsigned shift = level * kLevelBits;
    const uint64_t above_mask =
        (shift + kLevelBits >= 64) ? uint64_t{0} : ~((uint64_t{1} << (shift + kLevelBits)) - 1);
    const uint64_t block_start =
        (current_ & above_mask) | (uint64_t{static_cast<unsigned>(std::countr_zero(later))} << shift);
    return from_nanos(static_cast<int64_t>(block_start) * resolution_ns_);
  }
  return std::nullopt;
}

PacketList TimingWheel::drain() {
  PacketList out;
  while (size_ != 0) {
    const auto next = next_expiry();
    if (!next) {
      break;
    }
    PacketList due = expire(*next);
    out.splice_back(due);
  }
  return out;
}

}  // namespace badlink
