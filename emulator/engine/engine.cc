// The engine: pipelines per direction around one timing wheel; see engine.hh.
#include "engine/engine.hh"

namespace badlink {

Engine::Engine(const DirectionConfigs& configs, uint64_t seed, PacketPool& pool)
    : pool_(pool), seed_(seed) {
  for (size_t d = 0; d < kDirections; ++d) {
    rngs_[d].reseed(direction_seed(seed, static_cast<unsigned>(d)));
    pipelines_[d] = std::make_unique<Pipeline>(configs[d], rngs_[d], pool_, stats_[d], observer_);
  }
}

Engine::~Engine() {
  PacketList rest = wheel_.drain();
  rest.consume([this](Packet* p) { pool_.release(p); });
}

void Engine::submit(Packet* packet) {
  if (!started_) {
    wheel_.start(packet->arrival);
    started_ = true;
  }
  pipelines_[index_of(packet->address.direction)]->process(packet, next_seq_, wheel_);
}

static void account(PacketList& list, std::array<DirectionStats, kDirections>& stats) {
  for (Packet* p = list.front(); p != nullptr; p = p->next) {
    DirectionStats& s = stats[index_of(p->address.direction)];
    s.sent += p->segments;
    s.bytes_sent += p->wire_bytes();
    s.delay.record(p->departure - p->arrival, p->segments);
  }
}

PacketList Engine::expire(TimePoint now) {
  PacketList due = wheel_.expire(now);
  account(due, stats_);
  return due;
}

PacketList Engine::drain() {
  PacketList all = wheel_.drain();
  account(all, stats_);
  return all;
}

void Engine::reconfigure(const DirectionConfigs& configs) {
  // Build both before swapping either: a reload is applied whole.
  std::array<std::unique_ptr<Pipeline>, kDirections> next;
  for (size_t d = 0; d < kDirections; ++d) {
    next[d] = std::make_unique<Pipeline>(configs[d], rngs_[d], pool_, stats_[d], observer_);
    next[d]->inherit(*pipelines_[d]);
  }
  pipelines_ = std::move(next);
}

}  // namespace badlink
