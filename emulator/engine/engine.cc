// The engine: pipelines per link and direction around one timing wheel; see engine.hh.
#include "engine/engine.hh"

#include <stdexcept>
#include <utility>

namespace badlink {

EngineChange::EngineChange() = default;
EngineChange::EngineChange(EngineChange&&) noexcept = default;
EngineChange& EngineChange::operator=(EngineChange&&) noexcept = default;
EngineChange::~EngineChange() = default;

Engine::Engine(std::span<const DirectionConfigs> links, uint64_t seed, PacketPool& pool)
    : pool_(pool), seed_(seed) {
  links_.reserve(links.size());
  for (size_t i = 0; i < links.size(); ++i) {
    links_.push_back(make_slot(i, links[i]));
  }
}

Engine::~Engine() {
  PacketList rest = wheel_.drain();
  rest.consume([this](Packet* p) { pool_.release(p); });
}

std::unique_ptr<EngineLink> Engine::make_slot(size_t link, const DirectionConfigs& configs) {
  auto slot = std::make_unique<EngineLink>();
  const uint64_t seed = link_seed(seed_, link);
  for (size_t d = 0; d < kDirections; ++d) {
    slot->rngs[d].reseed(direction_seed(seed, static_cast<unsigned>(d)));
    slot->pipelines[d] =
        std::make_unique<Pipeline>(configs[d], slot->rngs[d], pool_, slot->stats[d], observer_);
  }
  return slot;
}

void Engine::submit(Packet* packet) {
  if (!started_) {
    wheel_.start(packet->arrival);
    started_ = true;
  }
  // A link the engine does not have (a backend's mistake) counts as link 0: never out of range.
  const size_t link = packet->address.link < links_.size() ? packet->address.link : 0;
  links_[link]->pipelines[index_of(packet->address.direction)]->process(packet, next_seq_,
                                                                         wheel_);
}

void Engine::account(const PacketList& list) {
  for (const Packet* p = list.front(); p != nullptr; p = p->next) {
    const size_t link = p->address.link < links_.size() ? p->address.link : 0;
    DirectionStats& s = links_[link]->stats[index_of(p->address.direction)];
    s.sent += p->segments;
    s.bytes_sent += p->wire_bytes();
    s.delay.record(p->departure - p->arrival, p->segments);
  }
}

PacketList Engine::expire(TimePoint now) {
  PacketList due = wheel_.expire(now);
  account(due);
  return due;
}

PacketList Engine::drain() {
  PacketList all = wheel_.drain();
  account(all);
  return all;
}

EngineChange Engine::prepare(std::span<const DirectionConfigs> links) {
  if (links.size() < links_.size()) {
    throw std::invalid_argument("Engine::prepare: a link cannot be taken away");
  }
  EngineChange change;
  change.pipelines_.resize(links_.size());
  for (size_t i = 0; i < links_.size(); ++i) {
    EngineLink& slot = *links_[i];
    for (size_t d = 0; d < kDirections; ++d) {
      change.pipelines_[i][d] =
          std::make_unique<Pipeline>(links[i][d], slot.rngs[d], pool_, slot.stats[d], observer_);
    }
  }
  for (size_t i = links_.size(); i < links.size(); ++i) {
    change.added_.push_back(make_slot(i, links[i]));
  }
  links_.reserve(links.size());  // so that commit() does not allocate
  return change;
}

void Engine::commit(EngineChange change) noexcept {
  for (size_t i = 0; i < change.pipelines_.size(); ++i) {
    for (size_t d = 0; d < kDirections; ++d) {
      change.pipelines_[i][d]->inherit(*links_[i]->pipelines[d]);
      links_[i]->pipelines[d] = std::move(change.pipelines_[i][d]);
    }
  }
  for (std::unique_ptr<EngineLink>& slot : change.added_) {
    links_.push_back(std::move(slot));
  }
}

}  // namespace badlink
