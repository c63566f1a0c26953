// The plain way to delay packets with NFQUEUE, for scripts/bench-tcp to compare `badlink run`
// with: one netlink socket bound to every queue given, ids copied only (small copy range; GSO
// flag off, so the kernel segments), each packet's verdict held in one FIFO with its arrival
// time (CLOCK_MONOTONIC when read) and answered with one NF_ACCEPT per sendto() once
// arrival + delay is reached. It sleeps in poll() (1 ms granularity) until the head is due
// and spins on a non-blocking recv() during the last millisecond.
//
// Usage: nfq_delay_loop --delay-ms MS [--maxlen N] QUEUE...   (until SIGINT/SIGTERM, which
// accept whatever is held; prints its counters on stdout)
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

namespace {

struct Held {
  uint32_t id;
  uint16_t queue;
  int64_t due_ns;
};

volatile std::sig_atomic_t stop = 0;
mnl_socket* nl = nullptr;
std::deque<Held> fifo;
int64_t delay_ns = 0;
unsigned long long received = 0, accepted = 0, verdict_errors = 0, enobufs = 0;
size_t max_held = 0;
// Verdict sent minus due, over the verdicts of the main loop (not those flushed at exit).
int64_t late_sum_ns = 0, late_max_ns = 0;
unsigned long long in_time = 0;

void on_signal(int) { stop = 1; }

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void send_or_die(nlmsghdr* nlh, const char* what) {
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
    std::fprintf(stderr, "nfq_delay_loop: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
  }
}

void accept_packet(const Held& h) {
  alignas(nlmsghdr) char buf[128];
  nlmsghdr* v = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, h.queue);
  nfq_nlmsg_verdict_put(v, static_cast<int>(h.id), NF_ACCEPT);
  if (mnl_socket_sendto(nl, v, v->nlmsg_len) < 0) {
    ++verdict_errors;
  } else {
    ++accepted;
  }
}

// Read time is the arrival time: every message of one datagram gets the same stamp.
int on_packet(const nlmsghdr* nlh, void* data) {
  nlattr* attr[NFQA_MAX + 1] = {};
  if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == nullptr) {
    return MNL_CB_OK;
  }
  const auto* ph =
      static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  fifo.push_back(
      {ntohl(ph->packet_id), ntohs(nfg->res_id), *static_cast<int64_t*>(data) + delay_ns});
  ++received;
  max_held = std::max(max_held, fifo.size());
  return MNL_CB_OK;
}

void configure(uint16_t queue, uint8_t command, uint32_t maxlen) {
  alignas(nlmsghdr) char buf[256];
  nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, command);
  send_or_die(nlh, command == NFQNL_CFG_CMD_BIND ? "bind" : "unbind");
  if (command == NFQNL_CFG_CMD_BIND) {
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 64);  // ids only; headers for debugging
    nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
    send_or_die(nlh, "configure");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<uint16_t> queues;
  uint32_t maxlen = 65536;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--delay-ms" && i + 1 < argc) {
      delay_ns = std::strtoll(argv[++i], nullptr, 10) * 1'000'000;
    } else if (a == "--maxlen" && i + 1 < argc) {
      maxlen = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      queues.push_back(static_cast<uint16_t>(std::strtoul(argv[i], nullptr, 10)));
    }
  }
  if (queues.empty() || delay_ns < 0) {
    std::fprintf(stderr, "usage: nfq_delay_loop --delay-ms MS [--maxlen N] QUEUE...\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: poll returns EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    std::perror("nfq_delay_loop: netlink");
    return 1;
  }
  const int fd = mnl_socket_get_fd(nl);
  const int rcv = 64 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  }
  for (const uint16_t q : queues) {
    configure(q, NFQNL_CFG_CMD_BIND, maxlen);
  }
  std::fprintf(stderr, "nfq_delay_loop: listening on %zu queue(s), delay %lld ms\n", queues.size(),
               static_cast<long long>(delay_ns / 1'000'000));

  const unsigned portid = mnl_socket_get_portid(nl);
  std::vector<char> rx(MNL_SOCKET_BUFFER_SIZE);
  while (stop == 0) {
    int64_t now = now_ns();
    while (!fifo.empty() && fifo.front().due_ns <= now) {
      const int64_t late = now_ns() - fifo.front().due_ns;
      late_sum_ns += late;
      late_max_ns = std::max(late_max_ns, late);
      ++in_time;
      accept_packet(fifo.front());
      fifo.pop_front();
    }
    // Sleep until 1 ms before the head is due (or 100 ms when idle, to notice signals); then spin.
    int timeout_ms = 100;
    if (!fifo.empty()) {
      timeout_ms = static_cast<int>((fifo.front().due_ns - now) / 1'000'000) - 1;
      timeout_ms = std::clamp(timeout_ms, 0, 100);
    }
    if (timeout_ms > 0) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) {
        continue;  // timeout, or EINTR
      }
    }
    // Drain what is readable (bounded, so that due verdicts are not starved), without blocking.
    for (int n = 0; n < 64; ++n) {
      const ssize_t len = recv(fd, rx.data(), rx.size(), MSG_DONTWAIT);
      if (len < 0) {
        if (errno == ENOBUFS) {
          ++enobufs;  // the kernel could not queue a message to us: that packet is dropped
          continue;
        }
        break;  // EAGAIN, EINTR
      }
      int64_t arrival = now_ns();
      if (mnl_cb_run(rx.data(), static_cast<size_t>(len), 0, portid, on_packet, &arrival) < 0) {
        ++verdict_errors;  // an error answer to one of our verdicts
      }
    }
  }
  for (const Held& h : fifo) {
    accept_packet(h);
  }
  for (const uint16_t q : queues) {
    configure(q, NFQNL_CFG_CMD_UNBIND, 0);
  }
  mnl_socket_close(nl);
  std::printf(
      "received=%llu\naccepted=%llu\nverdict_errors=%llu\nenobufs=%llu\nmax_held=%zu\n"
      "lateness_mean_us=%.1f\nlateness_max_us=%.1f\n",
      received, accepted, verdict_errors, enobufs, max_held,
      in_time == 0 ? 0.0 : static_cast<double>(late_sum_ns) / 1e3 / static_cast<double>(in_time),
      static_cast<double>(late_max_ns) / 1e3);
  return 0;
}
