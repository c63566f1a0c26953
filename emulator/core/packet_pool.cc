// Size-classed packet slots carved from chunks; see packet_pool.hh.
#include "core/packet_pool.hh"

#include <algorithm>
#include <cstring>
#include <new>

namespace badlink {

namespace {
// Slots start on cache-line boundaries, so a packet's hot header fields share one line.
constexpr size_t kLine = 64;
constexpr size_t slot_size(size_t cls) {
  return (sizeof(Packet) + PacketPool::kClassCapacity[cls] + kLine - 1) & ~(kLine - 1);
}
}  // namespace

PacketPool::PacketPool(Limits limits) : limits_(limits) { chunks_.reserve(1024); }

size_t PacketPool::class_for(size_t bytes) {
  for (size_t cls = 0; cls < kClasses; ++cls) {
    if (bytes <= kClassCapacity[cls]) {
      return cls;
    }
  }
  return kClasses;
}

bool PacketPool::grow(size_t cls) {
  const size_t slot = slot_size(cls);
  const size_t slots = std::max<size_t>(limits_.chunk_bytes / slot, 4);
  const size_t bytes = slots * slot;
  if (bytes_reserved_ + bytes > limits_.max_bytes) {
    return false;
  }
  auto chunk = Chunk(static_cast<std::byte*>(::operator new(bytes, std::align_val_t{kLine}, std::nothrow)));
  if (!chunk) {
    return false;
  }
  std::byte* base = chunk.get();
  chunks_.push_back(std::move(chunk));
  bytes_reserved_ += bytes;
  ++chunk_allocations_;
  for (size_t i = slots; i-- > 0;) {
    auto* p = new (base + i * slot) Packet{};
    p->pool_class = static_cast<uint8_t>(cls);
    p->capacity = kClassCapacity[cls];
    p->next = free_[cls].head;
    free_[cls].head = p;
  }
  free_[cls].count += slots;
  return true;
}

void PacketPool::reserve(size_t bytes, size_t count) {
  const size_t cls = class_for(bytes);
  if (cls == kClasses) {
    return;
  }
  while (free_[cls].count < count && grow(cls)) {
  }
}

Packet* PacketPool::allocate(size_t bytes) {
  const size_t cls = class_for(bytes);
  if (cls == kClasses) {
    return nullptr;
  }
  if (free_[cls].head == nullptr && !grow(cls)) {
    return nullptr;
  }
  Packet* p = free_[cls].head;
  free_[cls].head = p->next;
  --free_[cls].count;
  if (Packet* upcoming = free_[cls].head) {
    // The next packet handed out was released a whole delay after it was last written, so its
    // lines are cold; start fetching header and first data line now.
    __builtin_prefetch(upcoming, 1);
    __builtin_prefetch(reinterpret_cast<const std::byte*>(upcoming) + 64, 1);
    __builtin_prefetch(reinterpret_cast<const std::byte*>(upcoming) + 128, 1);
  }
  ++in_use_;
  const uint8_t pool_class = p->pool_class;
  const uint32_t capacity = p->capacity;
  *p = Packet{};
  p->pool_class = pool_class;
  p->capacity = capacity;
  return p;
}

Packet* PacketPool::clone(const Packet& original) {
  Packet* copy = allocate(original.length);
  if (copy == nullptr) {
    return nullptr;
  }
  const uint8_t pool_class = copy->pool_class;
  const uint32_t capacity = copy->capacity;
  *copy = original;
  copy->next = nullptr;
  copy->pool_class = pool_class;
  copy->capacity = capacity;
  std::memcpy(copy->data(), original.data(), original.length);
  return copy;
}

void PacketPool::release(Packet* packet) {
  const size_t cls = packet->pool_class;
  packet->next = free_[cls].head;
  free_[cls].head = packet;
  ++free_[cls].count;
  --in_use_;
}

}  // namespace badlink
