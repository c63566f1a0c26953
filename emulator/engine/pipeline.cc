// One direction's impairment pipeline; the stage order is documented in pipeline.hh.
#include "engine/pipeline.hh"

#include <algorithm>
#include <cstring>

namespace badlink {

Pipeline::Pipeline(const DirectionConfig& config, Rng& rng, PacketPool& pool, DirectionStats& stats,
                   EngineObserver*& observer, uint64_t& in_service, const TimePoint& epoch)
    : rng_(rng),
      pool_(pool),
      stats_(stats),
      observer_(observer),
      loss_(config.loss),
      bottleneck_(in_service, epoch),
      delay_(config.delay),
      config_(config) {
  bottleneck_.configure(config.rate, config.queue);
  slotted_ = config.slot.enabled();
  fate_.reserve(1024);  // a 64 KiB super-packet of 88-byte segments: no allocation per packet
}

void Pipeline::drop(Packet* packet) {
  // A segment is the engine's own: the backend's packet it was cut from is already answered.
  if (observer_ != nullptr && (packet->flags & Packet::kSegment) == 0) {
    observer_->dropped(*packet);
  }
  pool_.release(packet);
}

void Pipeline::inherit(Pipeline& previous) {
  bottleneck_.take_over(previous.bottleneck_);
  last_departure_ = previous.last_departure_;
  reorder_counter_ = previous.reorder_counter_;
  loss_.inherit(previous.loss_);
  delay_.inherit(previous.delay_);
  outage_ = previous.outage_;  // the bottleneck's hold came with it
  slot_next_ = previous.slot_next_;
  slot_packets_left_ = previous.slot_packets_left_;
  slot_bytes_left_ = previous.slot_bytes_left_;
}

void Pipeline::set_outage(Outage outage, TimePoint now, TimingWheel& wheel) {
  outage_ = outage;
  bottleneck_.set_held(outage == Outage::hold, now, wheel);
}

void Pipeline::served(Packet* packet, TimingWheel& wheel) {
  const TimePoint finished = packet->departure;
  bottleneck_.served(packet, wheel);
  after_bottleneck(packet, finished, wheel);
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

  if (packet->address.gso_size > 0) {
    const std::optional<GsoLayout> layout =
        gso_layout(packet->l3(), headers, packet->address.gso_size);
    if (layout && layout->segments > 1) {
      process_super(packet, headers, *layout, next_seq, wheel);
      return;
    }
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

void Pipeline::process_super(Packet* packet, const IpHeaders& headers, const GsoLayout& layout,
                             uint64_t& next_seq, TimingWheel& wheel) {
  stats_.received += layout.segments - 1;
  stats_.bytes_received +=
      uint64_t{layout.segments - 1} * (layout.header_bytes + packet->l3_offset);
  fate_.clear();
  bool whole =
      !bottleneck_.engaged() && config_.reorder <= 0.0 && !delay_.has_jitter() && !slotted_;
  if (packet->l3().size() < headers.ip_length) {
    // Only its headers were copied, which a backend does only where the profile just delays
    // (DirectionConfig::delays_only): nothing to draw, it goes on whole.
    whole = true;
  } else {
    for (uint32_t i = 0; i < layout.segments; ++i) {
      uint8_t fate = 0;
      if (config_.duplicate > 0.0 && rng_.chance(config_.duplicate)) {
        fate |= kDuplicated;
      }
      for (int copy = 0; copy < ((fate & kDuplicated) != 0 ? 2 : 1); ++copy) {
        const int shift = copy * kCopyShift;
        if (loss_.lose(rng_)) {
          fate |= static_cast<uint8_t>(kLost << shift);
        } else if (config_.corrupt > 0.0 && rng_.chance(config_.corrupt)) {
          fate |= static_cast<uint8_t>(kCorrupt << shift);
        }
      }
      whole = whole && fate == 0;
      fate_.push_back(fate);
    }
  }
  if (whole) {
    packet->segments = static_cast<uint16_t>(layout.segments);
    packet->segment_overhead = static_cast<uint16_t>(layout.header_bytes + packet->l3_offset);
    schedule(packet, wheel);
    return;
  }
  split(packet, headers, layout, next_seq, wheel);
}

void Pipeline::split(Packet* packet, const IpHeaders& headers, const GsoLayout& layout,
                     uint64_t& next_seq, TimingWheel& wheel) {
  const std::span<const std::byte> ip = packet->l3();
  const size_t room = packet->l3_offset + layout.header_bytes + layout.segment_payload;
  for (uint32_t i = 0; i < layout.segments; ++i) {
    const uint8_t fate = fate_[i];
    Packet* seg = pool_.allocate(room);
    if (seg == nullptr) {
      ++stats_.dropped_memory;
      continue;
    }
    std::memcpy(seg->data(), packet->data(), packet->l3_offset);  // a link header, if any
    const size_t n =
        gso_write_segment(ip, headers, layout, i,
                          {seg->data() + packet->l3_offset, seg->capacity - packet->l3_offset});
    seg->length = static_cast<uint32_t>(packet->l3_offset + n);
    seg->wire_length = seg->length;
    seg->l3_offset = packet->l3_offset;
    seg->arrival = packet->arrival;
    seg->address = packet->address;
    seg->address.gso_size = 0;
    seg->address.checksum_partial = false;  // written in full
    seg->flags = Packet::kSegment;
    seg->seq = next_seq++;

    Packet* copy = nullptr;
    if ((fate & kDuplicated) != 0) {
      copy = pool_.clone(*seg);
      if (copy != nullptr) {
        ++stats_.duplicated;
        copy->flags |= Packet::kDuplicate;
        copy->seq = next_seq++;
      } else {
        ++stats_.dropped_memory;
      }
    }
    int shift = 0;
    for (Packet* p : {seg, copy}) {
      const int at = shift;
      shift += kCopyShift;
      if (p == nullptr) {
        continue;
      }
      if ((fate & (kLost << at)) != 0) {
        ++stats_.dropped_loss;
        drop(p);
        continue;
      }
      if ((fate & (kCorrupt << at)) != 0) {
        const IpHeaders h = parse_ip(p->l3());
        if (h.ok() && corrupt_packet(*p, h, rng_).flipped) {
          ++stats_.corrupted;
          p->flags |= Packet::kCorrupted;
        }
      }
      schedule(p, wheel);
    }
  }
  // The super-packet itself goes no further: its wire packets travel instead.
  drop(packet);
}

void Pipeline::schedule(Packet* p, TimingWheel& wheel) {
  if (outage_ == Outage::drop) {
    ++stats_.dropped_outage;
    drop(p);
    return;
  }
  // rate/queue: the bottleneck, measured in IP bytes (what the kernel and iperf3 count). (A
  // super-packet reaches it cut into wire packets where rate applies.)
  if (bottleneck_.engaged()) {
    if (!bottleneck_.enqueue(p, wheel)) {
      ++stats_.dropped_queue;
      drop(p);
    }
    return;  // served() goes on once its transmission ends
  }
  after_bottleneck(p, p->arrival, wheel);
}

void Pipeline::after_bottleneck(Packet* p, TimePoint finished, TimingWheel& wheel) {
  // reorder: netem's gap logic; a reordered packet skips the delay and ignores keep_order.
  if (config_.reorder > 0.0) {
    const uint32_t gap = std::max<uint32_t>(config_.reorder_gap, 1);
    if (reorder_counter_ + 1 >= gap && rng_.chance(config_.reorder)) {
      reorder_counter_ = 0;
      ++stats_.reordered;
      p->flags |= Packet::kReordered;
      p->departure = slotted_ ? slotted(finished, p->wire_bytes()) : finished;
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
  p->departure = slotted_ ? slotted(departure, p->wire_bytes()) : departure;
  wheel.insert(p);
}

TimePoint Pipeline::slotted(TimePoint ready, uint64_t bytes) {
  const SlotConfig& s = config_.slot;
  const auto open_next = [&](TimePoint now) {
    const auto spread = static_cast<double>((s.max - s.min).count());
    slot_next_ = now + s.min + Duration{static_cast<int64_t>(rng_.uniform() * spread)};
    slot_packets_left_ = s.packets;
    slot_bytes_left_ = s.bytes;
  };
  // A packet that finds the last slot gone waits for a new one, drawn from when it is ready.
  if (slot_next_ < ready) {
    open_next(ready);
  }
  const TimePoint departure = slot_next_;
  bool full = false;
  if (s.packets > 0) {
    slot_packets_left_ -= std::min<uint64_t>(slot_packets_left_, 1);
    full = slot_packets_left_ == 0;
  }
  if (s.bytes > 0) {
    slot_bytes_left_ -= std::min(slot_bytes_left_, bytes);
    full = full || slot_bytes_left_ == 0;
  }
  if (full) {
    open_next(departure);
  }
  return departure;
}

}  // namespace badlink
