// Packet storage without per-packet allocation: fixed size classes carved from large chunks,
// recycled through intrusive free lists. Growth is chunked, bounded and counted.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "core/packet.hh"

namespace badlink {

class PacketPool {
 public:
  // Bytes of packet data each class holds: small frames, frames of a 1,500-byte MTU (with an
  // Ethernet header and a VLAN tag), jumbo frames (9,000), GSO super-packets. A 1,500-byte
  // packet takes 1,664 bytes with its header (a 2,048-byte class took 2,176: 20,000 such
  // packets held, 33 MB instead of 44).
  static constexpr std::array<uint32_t, 5> kClassCapacity{128, 512, 1536, 9216, 65536 + 256};
  static constexpr size_t kClasses = kClassCapacity.size();

  struct Limits {
    size_t max_bytes = size_t{1} << 30;  // never hold more than this in all chunks together
    size_t chunk_bytes = size_t{1} << 20;
  };

  PacketPool() : PacketPool(Limits{}) {}
  explicit PacketPool(Limits limits);
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  // A packet able to hold `bytes`, with length 0 and default metadata; nullptr when `bytes` is
  // larger than any class or the byte limit is reached (the caller counts that as a drop).
  Packet* allocate(size_t bytes);

  // A copy of the packet's bytes and metadata in a fresh slot; nullptr as for allocate().
  Packet* clone(const Packet& original);

  // Returns a packet to its class; the packet must come from this pool.
  void release(Packet* packet);

  // Make sure `count` packets of class able to hold `bytes` exist before traffic starts.
  void reserve(size_t bytes, size_t count);

  size_t in_use() const { return in_use_; }
  size_t bytes_reserved() const { return bytes_reserved_; }
  size_t chunk_allocations() const { return chunk_allocations_; }

 private:
  static size_t class_for(size_t bytes);
  bool grow(size_t cls);

  struct FreeList {
    Packet* head = nullptr;
    size_t count = 0;
  };

  Limits limits_;
  std::array<FreeList, kClasses> free_{};
  struct ChunkDelete {
    void operator()(std::byte* p) const { ::operator delete(p, std::align_val_t{64}); }
  };
  using Chunk = std::unique_ptr<std::byte, ChunkDelete>;
  std::vector<Chunk> chunks_;
  size_t in_use_ = 0;
  size_t bytes_reserved_ = 0;
  size_t chunk_allocations_ = 0;
};

}  // namespace badlink
