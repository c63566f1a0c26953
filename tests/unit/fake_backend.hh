// A divert backend and a clock for tests of the live loop: packets the test queues come out of
// receive(), and what the loop hands back is noted.
#pragma once

#include <sys/eventfd.h>

#include <cstring>
#include <deque>
#include <vector>

#include "core/clock.hh"
#include "divert/divert.hh"
#include "sys/file_descriptor.hh"
#include "test_packets.hh"

namespace badlink {

// Packets queued by the test come out of receive(); the fd is an eventfd kept readable.
class FakeBackend final : public DivertBackend {
 public:
  FakeBackend() : fd_(::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  // A descriptor of its own for inbound packets (as NfqueueBackend has, a socket per queue).
  void split_descriptors() {
    inbound_fd_ = FileDescriptor(::eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK));
  }
  // Then: outbound's descriptor never readable (nothing comes that way), so that a wait
  // watching only it sleeps (receive() hands over whatever is queued, of either direction).
  void quiet_outbound() { fd_ = FileDescriptor(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)); }

  void queue(Direction d, uint64_t handle, TimePoint arrival = {}, uint16_t link = 0) {
    incoming_.push_back({d, handle, arrival, link});
  }

  size_t receive(std::span<Packet*> out, PacketPool& pool) override {
    size_t n = 0;
    while (n < out.size() && !incoming_.empty()) {
      const auto bytes = testing::make_ip_packet(4, 17, 32);
      Packet* p = pool.allocate(bytes.size());
      std::memcpy(p->data(), bytes.data(), bytes.size());
      p->length = p->wire_length = static_cast<uint32_t>(bytes.size());
      p->address.direction = incoming_.front().direction;
      p->address.handle = incoming_.front().handle;
      p->address.link = incoming_.front().link;
      p->arrival = incoming_.front().arrival;  // the kernel's stamp, if the test gave one
      incoming_.pop_front();
      out[n++] = p;
    }
    received_ += n;
    return n;
  }
  void reinject(Packet& p) override {
    reinjected.push_back(p.address.handle);
    received_before_reinject.push_back(received_);
    if (clock != nullptr) {
      reinjected_at.push_back(clock->now());
    }
  }
  void pass(Packet& p) override { passed.push_back(p.address.handle); }
  void consume(const DivertAddress& a) override { consumed.push_back(a.handle); }
  void flush() override { ++flushes; }
  int fd(Direction d) const override {
    return d == Direction::inbound && inbound_fd_ ? inbound_fd_.fd() : fd_.fd();
  }
  BackendStats stats() const override { return {}; }
  uint64_t received() const override { return received_; }
  Duration send_lead(Direction d) const override { return lead[index_of(d)]; }

  std::array<Duration, kDirections> lead{};  // what send_lead() says
  const Clock* clock = nullptr;              // when set, reinject() notes the time
  std::vector<TimePoint> reinjected_at;
  std::vector<uint64_t> reinjected;
  std::vector<uint64_t> received_before_reinject;  // received() at each reinject()
  std::vector<uint64_t> passed;
  std::vector<uint64_t> consumed;
  int flushes = 0;

 private:
  struct Incoming {
    Direction direction;
    uint64_t handle;
    TimePoint arrival;
    uint16_t link;
  };
  FileDescriptor fd_;
  FileDescriptor inbound_fd_;
  std::deque<Incoming> incoming_;
  uint64_t received_ = 0;
};

// A manual clock that may also move on by `tick` at every reading, as a spin needs.
class TickingClock final : public Clock {
 public:
  explicit TickingClock(TimePoint start) : now_(start) {}
  TimePoint now() const override {
    const TimePoint t = now_;
    now_ += tick;
    return t;
  }
  void advance(Duration d) { now_ += d; }
  void set(TimePoint t) { now_ = t; }
  Duration tick{0};

 private:
  mutable TimePoint now_;
};

}  // namespace badlink
