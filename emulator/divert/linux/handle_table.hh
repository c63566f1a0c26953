// The set of packets whose verdict is still owed to the kernel, keyed by (queue, packet id):
// open addressing with linear probing and backward-shift deletion in one fixed array, so the
// per-packet path never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace badlink {

class HandleTable {
 public:
  // Room for `capacity` keys (the array is twice that, rounded up to a power of two).
  explicit HandleTable(size_t capacity);

  // False when the table is full or the key is already there.
  bool insert(uint64_t key);
  // True when the key was there (and is now gone).
  bool erase(uint64_t key);
  bool contains(uint64_t key) const;

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }

  // Every key, in no particular order (shutdown).
  template <class Visitor>
  void for_each(Visitor&& visit) const {
    for (const Slot& s : slots_) {
      if (s.used) {
        visit(s.key);
      }
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;
    bool used = false;
  };

  size_t home(uint64_t key) const;
  size_t find(uint64_t key) const;  // slot index, or slots_.size() when absent

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

}  // namespace badlink
