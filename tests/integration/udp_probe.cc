// udp_probe: the integration tests' measuring stick. A sender of N numbered, timestamped UDP
// packets at R packets/s (the rest of each payload is 'x'), and a receiver that reports
// one-way delay percentiles, loss, duplicates, reordering and payloads that arrived changed
// as key=value lines. Both ends stamp with CLOCK_REALTIME, which all
// network namespaces of one host share, so one-way delay = receive stamp - send stamp.
//
//   udp_probe send --to ADDR --port P --count N --rate R [--size BYTES]
//   udp_probe recv --bind ADDR --port P --count N [--idle S] [--max-time S] [--user-stamp]
//                  [--ready FILE]
//
// The receiver stamps with the kernel's receive time (SO_TIMESTAMPNS) unless --user-stamp:
// the kernel's stamp is taken before netfilter's INPUT hook, so on a host whose inbound
// traffic is being delayed only a stamp taken in user space sees the delay.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

constexpr uint32_t kMagic = 0x626c7072;  // "blpr"

struct Header {
  uint32_t magic;
  uint32_t reserved;
  uint64_t seq;
  int64_t sent_ns;  // CLOCK_REALTIME
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "udp_probe: %s\n", message.c_str());
  std::exit(2);
}

int64_t now_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::map<std::string, std::string> parse(int argc, char** argv, int first) {
  std::map<std::string, std::string> options;
  for (int i = first; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0) {
      die("unexpected argument '" + key + "'");
    }
    key = key.substr(2);
    if (key == "user-stamp") {
      options[key] = "1";
    } else if (i + 1 < argc) {
      options[key] = argv[++i];
    } else {
      die("--" + key + " needs a value");
    }
  }
  return options;
}

std::string need(const std::map<std::string, std::string>& o, const std::string& key) {
  const auto it = o.find(key);
  if (it == o.end()) {
    die("--" + key + " is required");
  }
  return it->second;
}

sockaddr_storage resolve(const std::string& host, const std::string& port, socklen_t& length) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &result) != 0 || result == nullptr) {
    die("bad address " + host + " port " + port);
  }
  sockaddr_storage address{};
  std::memcpy(&address, result->ai_addr, result->ai_addrlen);
  length = result->ai_addrlen;
  freeaddrinfo(result);
  return address;
}

int send_main(const std::map<std::string, std::string>& o) {
  socklen_t length = 0;
  const sockaddr_storage to = resolve(need(o, "to"), need(o, "port"), length);
  const uint64_t count = std::stoull(need(o, "count"));
  const double rate = std::stod(need(o, "rate"));
  const size_t size = o.count("size") ? std::stoul(o.at("size")) : 64;
  if (size < sizeof(Header) || size > 65000 || rate <= 0) {
    die("--size must be 24..65000 and --rate positive");
  }
  const int fd = socket(to.ss_family, SOCK_DGRAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&to), length) != 0) {
    die(std::string("socket/connect: ") + std::strerror(errno));
  }
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  std::vector<char> payload(size, 'x');
  const int64_t period = static_cast<int64_t>(1e9 / rate);
  const int64_t start = now_ns(CLOCK_MONOTONIC);
  uint64_t errors = 0;
  int64_t first = 0;
  int64_t last = 0;
  for (uint64_t seq = 0; seq < count; ++seq) {
    const int64_t due = start + static_cast<int64_t>(seq) * period;
    // Sleep, never spin: the probe shares the CPUs with the emulator it measures.
    if (now_ns(CLOCK_MONOTONIC) < due) {
      timespec ts{static_cast<time_t>(due / 1'000'000'000), static_cast<long>(due % 1'000'000'000)};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
      }
    }
    Header h{kMagic, 0, seq, now_ns(CLOCK_REALTIME)};
    std::memcpy(payload.data(), &h, sizeof h);
    // Blocking, like an ordinary application: a sender the stack throttles slows down here.
    if (send(fd, payload.data(), payload.size(), 0) < 0) {
      ++errors;
    }
    last = now_ns(CLOCK_MONOTONIC);
    if (seq == 0) {
      first = last;
    }
  }
  const double elapsed = static_cast<double>(last - first) / 1e9;
  const double achieved = count > 1 && elapsed > 0 ? static_cast<double>(count - 1) / elapsed : 0;
  std::printf("sent=%llu\nsend_errors=%llu\nelapsed_s=%.6f\ntarget_pps=%.3f\nachieved_pps=%.3f\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(errors),
              elapsed, rate, achieved);
  close(fd);
  return 0;
}

double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) {
    return 0.0;
  }
  const double rank = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

int recv_main(const std::map<std::string, std::string>& o) {
  socklen_t length = 0;
  const sockaddr_storage at = resolve(need(o, "bind"), need(o, "port"), length);
  const uint64_t count = std::stoull(need(o, "count"));
  const double idle = o.count("idle") ? std::stod(o.at("idle")) : 2.0;
  const double max_time = o.count("max-time") ? std::stod(o.at("max-time")) : 60.0;
  const bool user_stamp = o.count("user-stamp") != 0;

  const int fd = socket(at.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) {
    die(std::string("socket: ") + std::strerror(errno));
  }
  const int on = 1;
  const int buffer = 16 << 20;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&at), length) != 0) {
    die(std::string("bind: ") + std::strerror(errno));
  }
  if (o.count("ready")) {
    std::ofstream(o.at("ready")) << "ready\n";
  }

  std::vector<uint8_t> seen(count, 0);
  std::vector<double> delays_ms;
  delays_ms.reserve(count);
  uint64_t received = 0;
  uint64_t duplicates = 0;
  uint64_t reordered = 0;
  uint64_t foreign = 0;
  uint64_t corrupted = 0;  // header intact, filler bytes changed
  uint64_t unique = 0;
  int64_t highest = -1;
  const int64_t started = now_ns(CLOCK_MONOTONIC);
  int64_t last_packet = 0;
  std::vector<char> buf(70000);
  alignas(cmsghdr) char control[256];
  while (unique < count) {
    const int64_t t = now_ns(CLOCK_MONOTONIC);
    if (static_cast<double>(t - started) / 1e9 > max_time) {
      break;
    }
    if (last_packet != 0 && static_cast<double>(t - last_packet) / 1e9 > idle) {
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) {
      continue;
    }
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
    const int64_t user_ns = now_ns(CLOCK_REALTIME);
    if (n < 0) {
      continue;
    }
    last_packet = now_ns(CLOCK_MONOTONIC);
    Header h{};
    if (static_cast<size_t>(n) < sizeof h) {
      ++foreign;
      continue;
    }
    std::memcpy(&h, buf.data(), sizeof h);
    if (h.magic != kMagic || h.seq >= count) {
      ++foreign;
      continue;
    }
    int64_t stamp = user_ns;
    if (!user_stamp) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts{};
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          stamp = int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
        }
      }
    }
    ++received;
    for (ssize_t i = sizeof h; i < n; ++i) {
      if (buf[static_cast<size_t>(i)] != 'x') {
        ++corrupted;
        break;
      }
    }
    if (seen[h.seq] != 0) {
      ++duplicates;
    } else {
      ++unique;
      // A corrupted stamp may be anything: no overflow, and no delay recorded from it.
      int64_t delay_ns = 0;
      if (!__builtin_sub_overflow(stamp, h.sent_ns, &delay_ns)) {
        delays_ms.push_back(static_cast<double>(delay_ns) / 1e6);
      }
      if (static_cast<int64_t>(h.seq) < highest) {
        ++reordered;
      }
    }
    seen[h.seq] = static_cast<uint8_t>(std::min(seen[h.seq] + 1, 255));
    highest = std::max(highest, static_cast<int64_t>(h.seq));
  }
  std::sort(delays_ms.begin(), delays_ms.end());
  double mean = 0.0;
  for (const double d : delays_ms) {
    mean += d;
  }
  mean = delays_ms.empty() ? 0.0 : mean / static_cast<double>(delays_ms.size());
  double var = 0.0;
  for (const double d : delays_ms) {
    var += (d - mean) * (d - mean);
  }
  const double stddev =
      delays_ms.size() > 1 ? std::sqrt(var / static_cast<double>(delays_ms.size() - 1)) : 0.0;
  std::printf(
      "expected=%llu\nreceived=%llu\nunique=%llu\nlost=%llu\nduplicates=%llu\nreordered=%llu\n"
      "foreign=%llu\ncorrupted=%llu\n",
      static_cast<unsigned long long>(count), static_cast<unsigned long long>(received),
      static_cast<unsigned long long>(unique), static_cast<unsigned long long>(count - unique),
      static_cast<unsigned long long>(duplicates), static_cast<unsigned long long>(reordered),
      static_cast<unsigned long long>(foreign), static_cast<unsigned long long>(corrupted));
  std::printf(
      "delay_min_ms=%.4f\ndelay_p1_ms=%.4f\ndelay_p5_ms=%.4f\ndelay_p50_ms=%.4f\n"
      "delay_p95_ms=%.4f\ndelay_p99_ms=%.4f\ndelay_max_ms=%.4f\ndelay_mean_ms=%.4f\n"
      "delay_stddev_ms=%.4f\n",
      delays_ms.empty() ? 0.0 : delays_ms.front(), percentile(delays_ms, 0.01),
      percentile(delays_ms, 0.05), percentile(delays_ms, 0.50), percentile(delays_ms, 0.95),
      percentile(delays_ms, 0.99), delays_ms.empty() ? 0.0 : delays_ms.back(), mean, stddev);
  close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    die("usage: udp_probe send|recv --option value...");
  }
  const std::string mode = argv[1];
  const auto options = parse(argc, argv, 2);
  if (mode == "send") {
    return send_main(options);
  }
  if (mode == "recv") {
    return recv_main(options);
  }
  die("unknown mode '" + mode + "'");
}
