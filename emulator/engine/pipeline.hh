// One direction's impairment pipeline. The order is written here and nowhere else:
//
//   duplicate -> loss -> corrupt -> rate/queue -> reorder/delay -> timing wheel
//
// as netem's enqueue, with dummynet's link model behind it: a copy made by `duplicate` is a
// wire packet of its own and meets loss, corruption, the queue and the delay independently;
// the rate stage is the bottleneck (a FIFO serialising at `rate`, tail drop at `queue_limit`);
// the delay stage is the propagation delay after it. `reorder` sends a packet straight on when
// it leaves the bottleneck, skipping the delay; `keep_order` makes every other packet leave no
// earlier than the one ahead of it (so jitter then lengthens delays rather than reordering).
//
// A GSO super-packet (address.gso_size > 0: one buffer standing for many wire packets) meets
// every stage per wire packet: its segments' fates are drawn one by one, and only when none
// is lost, duplicated or corrupted, and no stage times wire packets apart (rate, reorder,
// jitter), does it go on whole; otherwise it is cut into its wire packets here, each a packet
// of its own (kSegment) from the first stage on.
#pragma once

#include <cstdint>
#include <vector>

#include "core/gso.hh"
#include "core/latency_histogram.hh"
#include "core/packet.hh"
#include "core/packet_pool.hh"
#include "core/rng.hh"
#include "core/timing_wheel.hh"
#include "engine/bottleneck.hh"
#include "impairments/config.hh"
#include "impairments/corrupt.hh"
#include "impairments/delay.hh"
#include "impairments/loss.hh"

namespace badlink {

struct DirectionStats {
  uint64_t received = 0;        // packets submitted
  uint64_t sent = 0;            // packets handed back by expire()/drain(), duplicates included
  uint64_t dropped_loss = 0;    // by the loss model
  uint64_t dropped_queue = 0;   // tail drop at the bottleneck queue
  uint64_t dropped_memory = 0;  // no packet slot for a duplicate (pool limit)
  uint64_t duplicated = 0;      // extra copies made
  uint64_t reordered = 0;       // packets that skipped the delay
  uint64_t corrupted = 0;       // packets with a flipped bit
  uint64_t dropped_outage = 0;  // arrived while an outage dropped everything
  uint64_t malformed = 0;       // headers lie: passed on unchanged, unimpaired
  uint64_t non_ip = 0;          // frames the driver marked kNotIp: passed on unchanged
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;
  LatencyHistogram delay;  // departure - arrival of sent packets
};

// What a live backend needs to know of packets that never come out of expire(): a backend that
// holds the kernel's verdict for a packet must answer it when every copy of it is gone.
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  // A copy of `original` was made (it will come out of expire() or be dropped on its own).
  virtual void duplicated(const Packet& original) = 0;
  // The packet is dropped (loss, queue, no memory); its buffer returns to the pool after this.
  virtual void dropped(const Packet& packet) = 0;
};

class Pipeline {
 public:
  // `in_service`: the engine's count of bottleneck service events in the wheel; `epoch`: its
  // delivery traces' time 0.
  Pipeline(const DirectionConfig& config, Rng& rng, PacketPool& pool, DirectionStats& stats,
           EngineObserver*& observer, uint64_t& in_service, const TimePoint& epoch);

  // Consumes the packet: zero, one or more copies end up in `wheel` with departure and seq set.
  void process(Packet* packet, uint64_t& next_seq, TimingWheel& wheel);

  const DirectionConfig& config() const { return config_; }

  // A packet of this direction whose bottleneck service ended (it came out of the wheel flagged
  // Packet::kInService): the next one's starts, and this one goes on through the delay.
  void served(Packet* packet, TimingWheel& wheel);

  // Carries the state a reload must not lose: the bottleneck's queue (its packets now leave at
  // this pipeline's rate), the last departure (so packets already queued keep their order
  // ahead of new ones) and the reorder counter. The loss chain and the delay's correlation
  // state are the link's and continue too.
  void inherit(Pipeline& previous);

  size_t queued_packets() const { return bottleneck_.packets(); }
  // Whether packets pass through a bottleneck queue here (rate, hold, a backlog).
  bool queues() const { return bottleneck_.engaged(); }
  uint64_t queued_bytes() const { return bottleneck_.bytes(); }
  // From `now` on (an outage's end: the bottleneck is served again from then).
  void set_outage(Outage outage, TimePoint now, TimingWheel& wheel);
  Outage outage() const { return outage_; }

  // After inherit(): a queue the previous config left unserved (a delivery trace that ended)
  // is served from `now` under this one.
  void resume_service(TimePoint now, TimingWheel& wheel) { bottleneck_.resume(now, wheel); }
  // An outage that holds ends at `now` (a drain): the bottleneck is served again.
  void end_hold(TimePoint now, TimingWheel& wheel) { bottleneck_.set_held(false, now, wheel); }
  // What waits in the bottleneck (not the one being served), for the engine's destructor.
  PacketList take_waiting() { return bottleneck_.take_waiting(); }

 private:
  void schedule(Packet* packet, TimingWheel& wheel);
  // The stages after the bottleneck: reorder, delay, keep_order.
  void after_bottleneck(Packet* packet, TimePoint finished, TimingWheel& wheel);
  void drop(Packet* packet);
  // When a packet ready at `ready` leaves under the slot (netem's get_slot_next and dequeue).
  TimePoint slotted(TimePoint ready, uint64_t bytes);
  void process_super(Packet* packet, const IpHeaders& headers, const GsoLayout& layout,
                     uint64_t& next_seq, TimingWheel& wheel);
  void split(Packet* packet, const IpHeaders& headers, const GsoLayout& layout,
             uint64_t& next_seq, TimingWheel& wheel);

  // What happened to each wire packet of a super-packet, drawn in the order the stages
  // would draw for packets that came one by one.
  static constexpr uint8_t kDuplicated = 1;
  static constexpr uint8_t kLost = 2;  // shifted by kCopyShift for the duplicate
  static constexpr uint8_t kCorrupt = 4;
  static constexpr int kCopyShift = 2;
  std::vector<uint8_t> fate_;  // per segment; capacity kept between packets

  Rng& rng_;
  PacketPool& pool_;
  DirectionStats& stats_;
  EngineObserver*& observer_;
  LossModel loss_;
  Bottleneck bottleneck_;
  DelayModel delay_;
  uint32_t reorder_counter_ = 0;
  Outage outage_ = Outage::none;
  bool slotted_ = false;  // config_.slot.enabled(), beside what every packet reads
  TimePoint last_departure_{};
  // The slot: when the next opens (or the open one opened) and what it may still carry.
  TimePoint slot_next_{};
  uint64_t slot_packets_left_ = 0;
  uint64_t slot_bytes_left_ = 0;
  // Last: most of it is read when the pipeline is built, not per packet.
  DirectionConfig config_;
};

}  // namespace badlink
