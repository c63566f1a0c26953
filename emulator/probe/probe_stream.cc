// ProbeStream's plan, and run_streams over one thread per sender and per receiver.
#include "probe/probe_stream.hh"

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "sys/file_descriptor.hh"

namespace badlink::probe {

namespace {

// How long a receiver may wait beyond the time its probes take to send and drain.
constexpr auto kReceiveSlack = std::chrono::seconds(30);

}  // namespace

StreamPlan plan_stream(const StreamRoute& route, uint16_t id, const StreamLoad& load) {
  StreamPlan s;
  s.from = route.from;
  s.to = route.to;
  s.destination = make_endpoint(route.to_address, static_cast<uint16_t>(kBasePort + id));
  s.send.count = load.count;
  s.send.rate_pps = load.pps;
  s.send.payload_bytes = load.payload;
  s.send.stream = id;
  s.receive.count = load.count;
  s.receive.stream = id;
  s.receive.stamp = Stamp::kernel;
  const double send_s = static_cast<double>(load.count) / load.pps;
  s.receive.max_time = Duration{static_cast<int64_t>(send_s * 1e9)} + load.drain + kReceiveSlack;
  s.drain = load.drain;
  return s;
}

void run_streams(std::span<ProbeStream* const> streams, Interrupt& interrupt) {
  std::vector<FileDescriptor> receivers;
  std::vector<FileDescriptor> senders;
  for (ProbeStream* s : streams) {
    receivers.push_back(open_receiver(s->plan.to, s->plan.destination));
    senders.push_back(open_sender(s->plan.from, s->plan.destination));
  }
  std::atomic<size_t> finished{0};
  std::vector<std::thread> threads;
  const auto guarded = [&finished](ProbeStream* s, std::exception_ptr& failure, auto&& work) {
    try {
      work();
    } catch (...) {
      failure = std::current_exception();
      s->control.abort = true;
    }
    ++finished;
  };
  for (size_t i = 0; i < streams.size(); ++i) {
    ProbeStream* s = streams[i];
    const int rx = receivers[i].fd();
    const int tx = senders[i].fd();
    threads.emplace_back([s, rx, &guarded] {
      guarded(s, s->receive_failure,
              [&] { s->received = receive_probes(rx, s->plan.receive, s->control); });
    });
    threads.emplace_back([s, tx, &guarded] {
      guarded(s, s->send_failure, [&] {
        s->sent = send_probes(tx, s->plan.send, s->control);
        s->control.receive_until_ns = s->sent.last_send_ns + s->plan.drain.count();
      });
    });
  }
  std::optional<Interrupted> interrupted;
  while (finished < threads.size()) {
    try {
      interrupt.wait(std::chrono::milliseconds(50));
    } catch (const Interrupted& e) {
      interrupted = e;
      for (ProbeStream* s : streams) {
        s->control.abort = true;
      }
      break;
    }
  }
  for (std::thread& t : threads) {
    t.join();
  }
  if (interrupted) {
    throw *interrupted;
  }
  for (ProbeStream* s : streams) {
    for (const std::exception_ptr& failure : {s->send_failure, s->receive_failure}) {
      if (failure) {
        std::rethrow_exception(failure);
      }
    }
  }
}

}  // namespace badlink::probe
