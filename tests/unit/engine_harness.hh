// The engine on packets in memory, for tests: submit UDP packets at given times, collect what
// comes out with its times and flags.
#pragma once

#include <cstring>
#include <vector>

#include "engine/engine.hh"
#include "test_packets.hh"

namespace badlink {

struct Out {
  uint64_t seq;
  TimePoint arrival;
  TimePoint departure;
  uint8_t flags;
  Direction direction;
};

class EngineHarness {
 public:
  EngineHarness(const DirectionConfig& outbound, const DirectionConfig& inbound = {},
                uint64_t seed = 1)
      : engine_(DirectionConfigs{outbound, inbound}, seed, pool_) {}

  void submit(TimePoint at, size_t payload = 100, Direction d = Direction::outbound,
              bool malformed = false) {
    advance(at);
    const auto bytes = testing::make_ip_packet(4, 17, payload);
    Packet* p = pool_.allocate(bytes.size());
    std::memcpy(p->data(), bytes.data(), bytes.size());
    p->length = p->wire_length = static_cast<uint32_t>(bytes.size());
    if (malformed) {
      p->data()[0] = std::byte{0x44};  // IHL 4: shorter than any IPv4 header
    }
    p->arrival = at;
    p->address.direction = d;
    engine_.submit(p);
  }

  // Everything due by `at` comes out.
  void advance(TimePoint at) { collect(engine_.expire(at)); }
  const std::vector<Out>& out() const { return out_; }

  std::vector<Out> finish() {
    collect(engine_.drain());
    return out_;
  }

  Engine& engine() { return engine_; }
  PacketPool& pool() { return pool_; }

 private:
  void collect(PacketList list) {
    list.consume([&](Packet* p) {
      out_.push_back({p->seq, p->arrival, p->departure, p->flags, p->address.direction});
      pool_.release(p);
    });
  }
  PacketPool pool_;
  Engine engine_;
  std::vector<Out> out_;
};

}  // namespace badlink
