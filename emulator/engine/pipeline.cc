// One direction's impairment pipeline; the stage order is documented in pipeline.hh.
#include "engine/pipeline.hh"

#include <algorithm>

namespace badlink {

Pipeline::Pipeline(const DirectionConfig& config, Rng& rng, PacketPool& pool, DirectionStats& stats,
                   EngineObserver*& observer)
    : config_(config),
      rng_(rng),
      pool_(pool),
      stats_(stats),
      observer_(observer),
      loss_(config.loss),
      rate_(config.rate, config.queue),
      delay_(config.delay) {}

void Pipeline::drop(Packet* packet) {
  if (observer_ != nullptr) {
    observer_->dropped(*packet);
  }
  pool_.release(packet);
}

void Pipeline::inherit(const Pipeline& previous) {
  rate_.inherit(previous.rate_);
  last_departure_ = previous.last_departure_;
}

void Pipeline::process(Packet* packet, uint64_t& next_seq, TimingWheel& wheel) {
  ++stats_.received;
  stats_.bytes_received += packet->wire_length;
  packet->seq = next_seq++;

  if ((packet->flags & Packet::kNotIp) != 0) {
    ++stats_.non_ip;
    packet->departure = packet->arrival;
    wheel.insert(packet);
    return;
  }
  const IpHeaders headers = parse_ip(packet->l3());
  const uint32_t ip_on_wire =
      packet->wire_length > packet->l3_offset ? packet->wire_length - packet->l3_offset : 0;
  if (!headers.ok() || headers.ip_length > ip_on_wire) {
    // Headers that lie (also a length beyond what was on the wire; a snapped capture holds
    // fewer bytes than the wire did, which is fine) are not ours to judge: the packet goes on
    // unchanged, at once.
    ++stats_.malformed;
    packet->flags |= Packet::kMalformed;
    packet->departure = packet->arrival;
    wheel.insert(packet);
    return;
  }

  // duplicate: the copy is a wire packet of its own from here on.
  Packet* copy = nullptr;
  if (config_.duplicate > 0.0 && rng_.chance(config_.duplicate)) {
    copy = pool_.clone(*packet);
    if (copy != nullptr) {
      ++stats_.duplicated;
      copy->flags |= Packet::kDuplicate;
      copy->seq = next_seq++;
      if (observer_ != nullptr) {
        observer_->duplicated(*packet);
      }
    } else {
      ++stats_.dropped_memory;
    }
  }

  for (Packet* p : {packet, copy}) {
    if (p == nullptr) {
      continue;
    }
    // loss
    if (loss_.lose(rng_)) {
      ++stats_.dropped_loss;
      drop(p);
      continue;
    }
    // corrupt
    if (config_.corrupt > 0.0 && rng_.chance(config_.corrupt)) {
      if (corrupt_packet(*p, headers, rng_).flipped) {
        ++stats_.corrupted;
        p->flags |= Packet::kCorrupted;
      }
    }
    schedule(p, wheel);
  }
}

void Pipeline::schedule(Packet* p, TimingWheel& wheel) {
  // rate/queue: the bottleneck, measured in IP bytes (what the kernel and iperf3 count).
  TimePoint finished = p->arrival;
  if (rate_.enabled()) {
    const uint32_t ip_bytes = p->wire_length > p->l3_offset ? p->wire_length - p->l3_offset : 0;
    const std::optional<TimePoint> done = rate_.admit(p->arrival, ip_bytes);
    if (!done) {
      ++stats_.dropped_queue;
      drop(p);
      return;
    }
    finished = *done;
  }

  // reorder: netem's gap logic; a reordered packet skips the delay and ignores keep_order.
  if (config_.reorder > 0.0) {
    const uint32_t gap = std::max<uint32_t>(config_.reorder_gap, 1);
    if (reorder_counter_ + 1 >= gap && rng_.chance(config_.reorder)) {
      reorder_counter_ = 0;
      ++stats_.reordered;
      p->flags |= Packet::kReordered;
      p->departure = finished;
      wheel.insert(p);
      return;
    }
    ++reorder_counter_;
  }

  // delay
  TimePoint departure = finished + delay_.sample(rng_);
  if (config_.delay.keep_order) {
    departure = std::max(departure, last_departure_);
  }
  last_departure_ = std::max(last_departure_, departure);
  p->departure = departure;
  wheel.insert(p);
}

}  // namespace badlink
