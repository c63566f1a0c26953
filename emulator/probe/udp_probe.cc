// The UDP probe's sender and receiver; see udp_probe.hh.
#include "probe/udp_probe.hh"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "probe/network_namespace.hh"
#include "probe/probe_packet.hh"
#include "sys/system_error.hh"

namespace badlink::probe {

namespace {

void sleep_until_monotonic(int64_t due_ns) {
  const timespec ts{static_cast<time_t>(due_ns / 1'000'000'000),
                    static_cast<long>(due_ns % 1'000'000'000)};
  (void)retry_eintr([&] {
    const int rv = ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    errno = rv;
    return rv == 0 ? 0 : -1;
  });
}

}  // namespace

int64_t monotonic_ns() { return clock_ns(CLOCK_MONOTONIC); }
int64_t realtime_ns() { return clock_ns(CLOCK_REALTIME); }

Endpoint make_endpoint(const std::string& host, uint16_t port) {
  Endpoint e;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&e.address);
      ::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    e.length = sizeof(sockaddr_in);
    e.text = host + ":" + std::to_string(port);
    return e;
  }
  if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&e.address);
      ::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    e.length = sizeof(sockaddr_in6);
    e.text = "[" + host + "]:" + std::to_string(port);
    return e;
  }
  throw std::invalid_argument("'" + host + "' is not a numeric IPv4 or IPv6 address");
}

FileDescriptor open_sender(const std::string& netns, const Endpoint& to) {
  FileDescriptor fd = socket_in_namespace(netns, to.family(), SOCK_DGRAM);
  checked_call("connect(" + to.text + ")", [&] {
    return ::connect(fd.fd(), reinterpret_cast<const sockaddr*>(&to.address), to.length);
  });
  return fd;
}

SendReport send_probes(int fd, const SendPlan& plan, const ProbeControl& control) {
  if (plan.payload_bytes < kMinProbePayload || plan.payload_bytes > kMaxProbePayload ||
      !(plan.rate_pps > 0)) {
    throw std::invalid_argument("probe: payload must be 24..65000 bytes and the rate positive");
  }
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  std::vector<std::byte> payload(plan.payload_bytes);
  const double period_ns = 1e9 / plan.rate_pps;
  const int64_t start = monotonic_ns();
  SendReport report;
  int64_t first = 0;
  for (uint64_t seq = 0; seq < plan.count; ++seq) {
    if (control.abort.load(std::memory_order_relaxed)) {
      break;
    }
    const int64_t due =
        start + static_cast<int64_t>(std::llround(static_cast<double>(seq) * period_ns));
    if (monotonic_ns() < due) {
      sleep_until_monotonic(due);
    }
    ProbeHeader h;
    h.stream = plan.stream;
    h.length = static_cast<uint16_t>(plan.payload_bytes);
    h.seq = seq;
    h.sent_ns = realtime_ns();
    fill_probe(payload, h);
    // Blocking, like an ordinary application: a sender the stack throttles slows down here.
    const ssize_t rv = retry_eintr([&] { return ::send(fd, payload.data(), payload.size(), 0); });
    if (rv < 0) {
      ++report.send_errors;
    }
    ++report.sent;
    report.last_send_ns = monotonic_ns();
    if (seq == 0) {
      first = report.last_send_ns;
    }
  }
  report.elapsed_s = static_cast<double>(report.last_send_ns - first) / 1e9;
  report.achieved_pps = report.sent > 1 && report.elapsed_s > 0
                            ? static_cast<double>(report.sent - 1) / report.elapsed_s
                            : 0.0;
  return report;
}

FileDescriptor open_receiver(const std::string& netns, const Endpoint& at) {
  FileDescriptor fd = socket_in_namespace(netns, at.family(), SOCK_DGRAM);
  const int on = 1;
  SystemCall("setsockopt(SO_TIMESTAMPNS)",
             ::setsockopt(fd.fd(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on));
  // Room for a few seconds of a fast stream while the receiving thread is not scheduled.
  const int buffer = 32 << 20;
  if (::setsockopt(fd.fd(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0) {
    (void)::setsockopt(fd.fd(), SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  }
  checked_call("bind(" + at.text + ")", [&] {
    return ::bind(fd.fd(), reinterpret_cast<const sockaddr*>(&at.address), at.length);
  });
  return fd;
}

ReceiveReport receive_probes(int fd, const ReceivePlan& plan, const ProbeControl& control) {
  ReceiveReport report;
  report.arrivals.reserve(std::min<uint64_t>(plan.count + plan.count / 8 + 16, 4'000'000));
  std::vector<uint8_t> seen(plan.count, 0);
  uint64_t unique = 0;
  const int64_t started = monotonic_ns();
  int64_t last_packet = 0;
  std::vector<std::byte> buf(70000);
  alignas(cmsghdr) char control_buf[256];
  while (unique < plan.count) {
    if (control.abort.load(std::memory_order_relaxed)) {
      break;
    }
    const int64_t now = monotonic_ns();
    if (now - started > plan.max_time.count() ||
        now > control.receive_until_ns.load(std::memory_order_relaxed) ||
        (plan.idle.count() > 0 && last_packet != 0 && now - last_packet > plan.idle.count())) {
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) {
      continue;
    }
    // Everything queued, then back to the checks above.
    for (;;) {
      iovec iov{buf.data(), buf.size()};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control_buf;
      msg.msg_controllen = sizeof control_buf;
      const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
      if (n < 0) {
        break;
      }
      const int64_t user_ns = realtime_ns();
      last_packet = monotonic_ns();
      ProbeHeader h;
      const ProbeCheck check =
          check_probe(std::span(buf.data(), static_cast<size_t>(n)), plan.stream, h);
      if (check == ProbeCheck::foreign || (check == ProbeCheck::ok && h.seq >= plan.count)) {
        ++report.foreign;
        report.foreign_bytes += static_cast<uint64_t>(n);
        continue;
      }
      int64_t stamp = user_ns;
      if (plan.stamp == Stamp::kernel) {
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts{};
            std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
            stamp = nanos_of(ts);
          }
        }
      }
      Arrival a;
      a.seq = h.seq;
      a.sent_ns = h.sent_ns;
      a.received_ns = stamp;
      a.bytes = static_cast<uint32_t>(n);
      a.damaged = check == ProbeCheck::damaged;
      report.arrivals.push_back(a);
      if (!a.damaged && seen[a.seq] == 0) {
        seen[a.seq] = 1;
        ++unique;
      }
      if (unique >= plan.count) {
        break;
      }
    }
  }
  return report;
}

}  // namespace badlink::probe
