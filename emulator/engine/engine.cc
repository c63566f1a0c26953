// The engine: pipelines per link and direction around one timing wheel; see engine.hh.
#include "engine/engine.hh"

#include <algorithm>
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
  for (const std::unique_ptr<EngineLink>& link : links_) {
    for (const std::unique_ptr<Pipeline>& p : link->pipelines) {
      PacketList waiting = p->take_waiting();
      rest.splice_back(waiting);
    }
  }
  rest.consume([this](Packet* p) { pool_.release(p); });
}

std::unique_ptr<EngineLink> Engine::make_slot(size_t link, const DirectionConfigs& configs) {
  auto slot = std::make_unique<EngineLink>();
  const uint64_t seed = link_seed(seed_, link);
  for (size_t d = 0; d < kDirections; ++d) {
    slot->rngs[d].reseed(direction_seed(seed, static_cast<unsigned>(d)));
    slot->pipelines[d] = std::make_unique<Pipeline>(configs[d], slot->rngs[d], pool_,
                                                    slot->stats[d], observer_, in_service_);
  }
  return slot;
}

Pipeline& Engine::pipeline_of(const Packet& p) {
  // A link the engine does not have (a backend's mistake) counts as link 0: never out of range.
  const size_t link = p.address.link < links_.size() ? p.address.link : 0;
  return *links_[link]->pipelines[index_of(p.address.direction)];
}

void Engine::submit(Packet* packet) {
  if (!started_) {
    wheel_.start(packet->arrival);
    started_ = true;
  }
  latest_ = std::max(latest_, packet->arrival);
  pipeline_of(*packet).process(packet, next_seq_, wheel_);
}

size_t Engine::pending() const {
  // The packet being served is in the wheel and counted by its bottleneck too.
  size_t n = wheel_.size() - in_service_;
  for (const std::unique_ptr<EngineLink>& link : links_) {
    for (const std::unique_ptr<Pipeline>& p : link->pipelines) {
      n += p->queued_packets();
    }
  }
  return n;
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
  latest_ = std::max(latest_, now);
  if (in_service_ == 0) {
    PacketList due = wheel_.expire(now);
    account(due);
    return due;
  }
  // Bottleneck service events among them: taken in time order, each starting the next
  // transmission and sending its packet on through the delay, which may make more due by now.
  PacketList out;
  for (std::optional<TimePoint> next = wheel_.next_expiry_exact(); next && *next <= now;
       next = wheel_.next_expiry_exact()) {
    PacketList due = wheel_.expire(*next);
    while (Packet* p = due.pop_front()) {
      if ((p->flags & Packet::kInService) != 0) {
        --in_service_;
        pipeline_of(*p).served(p, wheel_);
      } else {
        out.push_back(p);
      }
    }
  }
  account(out);
  return out;
}

PacketList Engine::drain() {
  // Outages that hold end now; what waits in a bottleneck is served as it would be.
  for (const std::unique_ptr<EngineLink>& link : links_) {
    for (const std::unique_ptr<Pipeline>& p : link->pipelines) {
      p->end_hold(latest_, wheel_);
    }
  }
  PacketList all;
  while (const std::optional<TimePoint> next = wheel_.next_expiry_exact()) {
    PacketList due = expire(*next);
    all.splice_back(due);
  }
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
      change.pipelines_[i][d] = std::make_unique<Pipeline>(links[i][d], slot.rngs[d], pool_,
                                                           slot.stats[d], observer_, in_service_);
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
