// The bottleneck: a FIFO of packets served one at a time by the link's capacity, with a
// tail-drop limit. A packet takes its size at the rate in force when it reaches the head, so a
// rate that changes applies to what is already queued; an outage that holds stops the service
// (the queue fills, up to its limit) and releases it in order when it ends. The packet being
// served waits in the timing wheel, flagged Packet::kInService, until its transmission ends:
// the engine hands it back to served() (a dequeue event), then the delay stages follow. A link
// served by a packet-delivery trace takes its capacity from the trace's opportunities instead
// (impairments/delivery_trace.hh), counted from the engine's trace epoch.
#pragma once

#include <cstdint>
#include <memory>

#include "core/packet.hh"
#include "core/packet_list.hh"
#include "core/timing_wheel.hh"
#include "impairments/config.hh"
#include "impairments/rate.hh"

namespace badlink {

class Bottleneck {
 public:
  // `in_service` counts the engine's service events in the wheel (the engine's slow path).
  // `epoch`: time 0 of a delivery trace (the timeline's start), the engine's.
  Bottleneck(uint64_t& in_service, const TimePoint& epoch)
      : in_service_(in_service), epoch_(epoch) {}
  ~Bottleneck();
  Bottleneck(const Bottleneck&) = delete;
  Bottleneck& operator=(const Bottleneck&) = delete;

  // From the next packet to reach the head on.
  void configure(const RateConfig& rate, const QueueLimit& limit);

  // Whether packets go through the queue: a rate, an outage holding, or packets still in it.
  bool engaged() const { return engaged_; }

  // Takes the packet (it arrived at p->arrival); false when the queue is full (the caller drops
  // it). With nothing being served, its service starts now.
  bool enqueue(Packet* p, TimingWheel& wheel);

  // The packet being served came out of the wheel: its transmission ended at p->departure.
  // Starts the next one's; the caller goes on with `p`.
  void served(Packet* p, TimingWheel& wheel);

  // An outage that holds: no service starts while it lasts; at its end (`now`) the queue is
  // served again in order.
  void set_held(bool held, TimePoint now, TimingWheel& wheel);
  bool held() const { return held_; }

  // Starts serving the head if nothing is being served and no outage holds (after take_over:
  // a queue whose trace had ended).
  void resume(TimePoint now, TimingWheel& wheel) {
    if (!serving_ && !held_) {
      start(now, wheel, false);
    }
  }

  // Takes over another's queue, service and clock (a reconfiguration keeps the backlog).
  void take_over(Bottleneck& previous);

  // Everything waiting (not the one being served: it is in the wheel), for a drain.
  PacketList take_waiting();

  size_t packets() const { return packets_; }  // waiting and being served
  uint64_t bytes() const { return bytes_; }

 private:
  // `queued`: the head waited behind the packet just served.
  void start(TimePoint now, TimingWheel& wheel, bool queued);
  void update_engaged() {
    engaged_ = serialiser_.rate() > 0 || trace_ != nullptr || held_ || packets_ > 0;
  }
  static uint64_t size_of(const Packet& p);

  uint64_t& in_service_;
  const TimePoint& epoch_;
  Serialiser serialiser_;
  std::shared_ptr<const DeliveryTrace> trace_;
  DeliverySchedule schedule_;
  QueueLimit limit_;
  PacketList waiting_;
  bool serving_ = false;  // a packet of this queue is in the wheel, being served
  bool held_ = false;
  TimePoint busy_until_{};
  size_t packets_ = 0;
  uint64_t bytes_ = 0;
  bool engaged_ = false;  // one load on every packet's path (engaged())
};

}  // namespace badlink
