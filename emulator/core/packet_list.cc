// Merge sort for the intrusive packet list; see packet_list.hh.
#include "core/packet_list.hh"

namespace badlink {

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

}  // namespace badlink
