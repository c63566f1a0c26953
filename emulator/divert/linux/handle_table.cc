// HandleTable: linear probing; deletion shifts later entries back so no tombstones build up.
#include "divert/linux/handle_table.hh"

#include <algorithm>
#include <bit>

namespace badlink {

HandleTable::HandleTable(size_t capacity) : capacity_(capacity) {
  const size_t slots = std::bit_ceil(std::max<size_t>(capacity * 2, 16));
  slots_.resize(slots);
  mask_ = slots - 1;
}

size_t HandleTable::home(uint64_t key) const {
  // Fibonacci hashing: packet ids are sequential, so spread them.
  return static_cast<size_t>((key * 0x9e3779b97f4a7c15ULL) >> 20) & mask_;
}

size_t HandleTable::find(uint64_t key) const {
  for (size_t i = home(key);; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (!s.used) {
      return slots_.size();
    }
    if (s.key == key) {
      return i;
    }
  }
}

bool HandleTable::contains(uint64_t key) const { return find(key) != slots_.size(); }

bool HandleTable::insert(uint64_t key) {
  if (size_ >= capacity_) {
    return false;
  }
  for (size_t i = home(key);; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (!s.used) {
      s.key = key;
      s.used = true;
      ++size_;
      return true;
    }
    if (s.key == key) {
      return false;
    }
  }
}

bool HandleTable::erase(uint64_t key) {
  size_t hole = find(key);
  if (hole == slots_.size()) {
    return false;
  }
  slots_[hole].used = false;
  --size_;
  // Move back every later entry of the run that may no longer be reachable from its home.
  for (size_t i = (hole + 1) & mask_; slots_[i].used; i = (i + 1) & mask_) {
    const size_t h = home(slots_[i].key);
    // The entry at i may move to the hole when its home is not cyclically in (hole, i].
    const bool reachable = hole <= i ? (hole < h && h <= i) : (hole < h || h <= i);
    if (!reachable) {
      slots_[hole] = slots_[i];
      slots_[i].used = false;
      hole = i;
    }
  }
  return true;
}

}  // namespace badlink
