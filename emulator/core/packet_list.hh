// An intrusive FIFO of packets through Packet::next: what the wheel hands back, with no
// allocation and O(1) append.
#pragma once

#include <cstddef>

#include "core/packet.hh"

namespace badlink {

class PacketList {
 public:
  PacketList() = default;
  PacketList(const PacketList&) = delete;
  PacketList& operator=(const PacketList&) = delete;
  PacketList(PacketList&& other) noexcept
      : head_(other.head_), tail_(other.tail_), size_(other.size_) {
    other.head_ = other.tail_ = nullptr;
    other.size_ = 0;
  }
  PacketList& operator=(PacketList&& other) noexcept {
    head_ = other.head_;
    tail_ = other.tail_;
    size_ = other.size_;
    other.head_ = other.tail_ = nullptr;
    other.size_ = 0;
    return *this;
  }

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }
  Packet* front() const { return head_; }
  Packet* back() const { return tail_; }

  void push_back(Packet* p) {
    p->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = p;
    } else {
      head_ = p;
    }
    tail_ = p;
    ++size_;
  }

  // Moves every packet of `other` to the end of this list.
  void splice_back(PacketList& other) {
    if (other.head_ == nullptr) {
      return;
    }
    if (tail_ != nullptr) {
      tail_->next = other.head_;
    } else {
      head_ = other.head_;
    }
    tail_ = other.tail_;
    size_ += other.size_;
    other.head_ = other.tail_ = nullptr;
    other.size_ = 0;
  }

  Packet* pop_front() {
    Packet* p = head_;
    if (p != nullptr) {
      head_ = p->next;
      if (head_ == nullptr) {
        tail_ = nullptr;
      }
      p->next = nullptr;
      --size_;
    }
    return p;
  }

  // Iteration that tolerates the visitor taking ownership of (and relinking) each packet.
  template <class Visitor>
  void consume(Visitor&& visit) {
    Packet* p = head_;
    head_ = tail_ = nullptr;
    size_ = 0;
    while (p != nullptr) {
      Packet* next = p->next;
      p->next = nullptr;
      visit(p);
      p = next;
    }
  }

  // Stable sort by (departure, seq), O(n log n) merge sort on the links, O(n) when sorted.
  void sort_by_departure();

 private:
  Packet* head_ = nullptr;
  Packet* tail_ = nullptr;
  size_t size_ = 0;
};

// The wheel's total order: earlier departure first, then earlier arrival (FIFO).
inline bool departs_before(const Packet& a, const Packet& b) {
  return a.departure < b.departure || (a.departure == b.departure && a.seq < b.seq);
}

}  // namespace badlink
