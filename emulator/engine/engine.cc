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
  refresh_flat();
}

Engine::~Engine() {
  PacketList rest = wheel_.drain();
  rest.splice_back(early_);
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
    slot->pipelines[d] = std::make_unique<Pipeline>(
        configs[d], slot->rngs[d], pool_, slot->stats[d], observer_, in_service_, trace_epoch_);
  }
  return slot;
}

void Engine::refresh_flat() noexcept {
  // Sized ahead (prepare reserves, the constructor may allocate): assign only.
  flat_pipelines_.resize(links_.size() * kDirections);
  flat_stats_.resize(links_.size() * kDirections);
  for (size_t i = 0; i < links_.size(); ++i) {
    for (size_t d = 0; d < kDirections; ++d) {
      flat_pipelines_[i * kDirections + d] = links_[i]->pipelines[d].get();
      flat_stats_[i * kDirections + d] = &links_[i]->stats[d];
    }
  }
}

// A link the engine does not have (a backend's mistake) counts as link 0: never out of range.
Pipeline& Engine::pipeline_of(const Packet& p) { return *flat_pipelines_[flat_index(p)]; }

Pipeline& Engine::arrival_pipeline_of(const Packet& p) {
  const size_t i = flat_index(p);
  if (p.arrival < changed_at_) {  // before the last change: the pipeline it arrived under
    const std::unique_ptr<Pipeline>& previous =
        links_[i / kDirections]->previous[i % kDirections];
    if (previous && !previous->queues() && !flat_pipelines_[i]->queues()) {
      return *previous;
    }
  }
  return *flat_pipelines_[i];
}

void Engine::submit(Packet* packet) {
  if (scheduled_ && packet->arrival >= scheduled_at_) {
    // What was due before the change is served as it was, then the change.
    PacketList before = expire_wheel(scheduled_at_);
    early_.splice_back(before);
    apply_scheduled();
  }
  if (!started_) {
    wheel_.start(packet->arrival);
    started_ = true;
    if (!trace_epoch_set_) {
      trace_epoch_ = packet->arrival;
    }
  }
  arrival_pipeline_of(*packet).process(packet, next_seq_, wheel_);
}

size_t Engine::pending() const {
  // The packet being served is in the wheel and counted by its bottleneck too.
  size_t n = wheel_.size() - in_service_ + early_.size();
  for (const std::unique_ptr<EngineLink>& link : links_) {
    for (const std::unique_ptr<Pipeline>& p : link->pipelines) {
      n += p->queued_packets();
    }
  }
  return n;
}

void Engine::account(const PacketList& list) {
  for (const Packet* p = list.front(); p != nullptr; p = p->next) {
    DirectionStats& s = *flat_stats_[flat_index(*p)];
    s.sent += p->segments;
    s.bytes_sent += p->wire_bytes();
    s.delay.record(p->departure - p->arrival, p->segments);
  }
}

PacketList Engine::expire(TimePoint now) {
  if (!scheduled_ && early_.empty()) {
    return expire_wheel(now);
  }
  PacketList out = std::move(early_);
  early_ = PacketList{};
  if (scheduled_ && now >= scheduled_at_) {
    PacketList before = expire_wheel(scheduled_at_);
    out.splice_back(before);
    apply_scheduled();
  }
  PacketList rest = expire_wheel(now);
  out.splice_back(rest);
  return out;
}

void Engine::apply_scheduled() noexcept {
  const TimePoint at = scheduled_at_;
  EngineChange change = std::move(*scheduled_);
  scheduled_.reset();
  latest_ = std::max(latest_, at);
  commit(std::move(change));
}

void Engine::commit_at(EngineChange change, TimePoint at) noexcept {
  scheduled_.reset();
  scheduled_.emplace(std::move(change));
  scheduled_at_ = at;
}

PacketList Engine::expire_wheel(TimePoint now) {
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
  if (scheduled_) {
    PacketList before = expire(scheduled_at_);  // the change happens on the way
    early_.splice_back(before);
  }
  // Outages that hold end now; what waits in a bottleneck is served as it would be.
  for (const std::unique_ptr<EngineLink>& link : links_) {
    for (const std::unique_ptr<Pipeline>& p : link->pipelines) {
      p->end_hold(latest_, wheel_);
    }
  }
  PacketList all = std::move(early_);
  early_ = PacketList{};
  while (const std::optional<TimePoint> next = wheel_.next_expiry_exact()) {
    PacketList due = expire(*next);
    all.splice_back(due);
  }
  return all;
}

EngineChange Engine::prepare(
    std::span<const DirectionConfigs> links,
    std::span<const std::array<std::optional<Outage>, kDirections>> outages) {
  EngineChange change = prepare(links);
  change.outages_.assign(outages.begin(), outages.end());
  return change;
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
      change.pipelines_[i][d] = std::make_unique<Pipeline>(
          links[i][d], slot.rngs[d], pool_, slot.stats[d], observer_, in_service_, trace_epoch_);
    }
  }
  for (size_t i = links_.size(); i < links.size(); ++i) {
    change.added_.push_back(make_slot(i, links[i]));
  }
  links_.reserve(links.size());  // so that commit() does not allocate
  flat_pipelines_.reserve(links.size() * kDirections);
  flat_stats_.reserve(links.size() * kDirections);
  return change;
}

void Engine::commit(EngineChange change) noexcept {
  scheduled_.reset();  // a change made now replaces one scheduled for later
  changed_at_ = latest_;
  for (size_t i = 0; i < change.pipelines_.size(); ++i) {
    for (size_t d = 0; d < kDirections; ++d) {
      change.pipelines_[i][d]->inherit(*links_[i]->pipelines[d]);
      links_[i]->previous[d] = std::move(links_[i]->pipelines[d]);
      links_[i]->pipelines[d] = std::move(change.pipelines_[i][d]);
    }
  }
  for (std::unique_ptr<EngineLink>& slot : change.added_) {
    links_.push_back(std::move(slot));
  }
  refresh_flat();
  for (const std::unique_ptr<EngineLink>& link : links_) {
    for (const std::unique_ptr<Pipeline>& p : link->pipelines) {
      p->resume_service(latest_, wheel_);  // a queue the old config could not serve
    }
  }
  for (size_t i = 0; i < change.outages_.size() && i < links_.size(); ++i) {
    for (size_t d = 0; d < kDirections; ++d) {
      if (change.outages_[i][d] && *change.outages_[i][d] != links_[i]->pipelines[d]->outage()) {
        links_[i]->pipelines[d]->set_outage(*change.outages_[i][d], latest_, wheel_);
      }
    }
  }
}

}  // namespace badlink
