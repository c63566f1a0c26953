// The bottleneck queue; see bottleneck.hh.
#include "engine/bottleneck.hh"

#include <algorithm>
#include <utility>

namespace badlink {

Bottleneck::~Bottleneck() = default;

uint64_t Bottleneck::size_of(const Packet& p) {
  // IP bytes (what the kernel and iperf3 count), every segment of a super-packet.
  const uint64_t wire = p.wire_bytes();
  return wire > p.l3_offset ? wire - p.l3_offset : 0;
}

void Bottleneck::configure(const RateConfig& rate, const QueueLimit& limit) {
  serialiser_.set_rate(rate.bits_per_second);
  if (!same_contents(rate.trace, trace_)) {
    schedule_ = DeliverySchedule{};  // another trace: from its own opportunities
  }
  trace_ = rate.trace;
  limit_ = limit;
  update_engaged();
}

bool Bottleneck::enqueue(Packet* p, TimingWheel& wheel) {
  const uint64_t size = size_of(*p);
  if ((limit_.packets > 0 && packets_ >= limit_.packets) ||
      (limit_.bytes > 0 && bytes_ + size > limit_.bytes)) {
    return false;
  }
  ++packets_;
  bytes_ += size;
  engaged_ = true;
  waiting_.push_back(p);
  if (!serving_ && !held_) {
    start(p->arrival, wheel, false);
  }
  return true;
}

void Bottleneck::start(TimePoint now, TimingWheel& wheel, bool queued) {
  Packet* head = waiting_.front();
  if (head == nullptr) {
    return;
  }
  const TimePoint begin = std::max(now, busy_until_);
  if (trace_) {
    const std::optional<TimePoint> done =
        schedule_.serve(*trace_, epoch_, size_of(*head), begin, queued);
    if (!done) {
      return;  // a trace that has ended delivers nothing more: the queue fills
    }
    busy_until_ = *done;
  } else {
    busy_until_ = begin + serialiser_.time_for(size_of(*head));
  }
  waiting_.pop_front();
  head->departure = busy_until_;
  head->flags |= Packet::kInService;
  serving_ = true;
  ++in_service_;
  wheel.insert(head);
}

void Bottleneck::served(Packet* p, TimingWheel& wheel) {
  p->flags &= static_cast<uint8_t>(~Packet::kInService);
  serving_ = false;
  --packets_;
  bytes_ -= std::min(bytes_, size_of(*p));
  update_engaged();
  if (!held_) {
    start(p->departure, wheel, true);
  }
}

void Bottleneck::set_held(bool held, TimePoint now, TimingWheel& wheel) {
  held_ = held;
  update_engaged();
  if (!held_ && !serving_) {
    start(now, wheel, false);
  }
}

void Bottleneck::take_over(Bottleneck& previous) {
  waiting_ = std::move(previous.waiting_);
  previous.waiting_ = PacketList{};
  serving_ = std::exchange(previous.serving_, false);
  held_ = previous.held_;
  busy_until_ = previous.busy_until_;
  if (same_contents(trace_, previous.trace_)) {
    schedule_ = previous.schedule_;  // the same trace goes on where it was
  }
  packets_ = std::exchange(previous.packets_, 0);
  bytes_ = std::exchange(previous.bytes_, 0);
  update_engaged();
  previous.update_engaged();
}

PacketList Bottleneck::take_waiting() {
  PacketList all = std::move(waiting_);
  waiting_ = PacketList{};
  packets_ -= std::min(packets_, all.size());
  for (const Packet* p = all.front(); p != nullptr; p = p->next) {
    bytes_ -= std::min(bytes_, size_of(*p));
  }
  update_engaged();
  return all;
}

}  // namespace badlink
