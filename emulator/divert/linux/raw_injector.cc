// RawInjector: sendmsg() with the destination from the packet's own header and the interface
// in an IP_PKTINFO / IPV6_PKTINFO control message.
#include "divert/linux/raw_injector.hh"

#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sys/system_error.hh"

namespace badlink {

namespace {

FileDescriptor open_raw(int family, uint32_t mark, bool optional, bool& stamps) {
  stamps = false;
  const int fd = ::socket(family, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_RAW);
  if (fd < 0) {
    if (optional && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
      spdlog::warn("no IPv6 raw socket ({}); IPv6 packets cannot be reinjected",
                   std::strerror(errno));
      return FileDescriptor{};
    }
    throw SystemError(family == AF_INET ? "socket(AF_INET, SOCK_RAW, IPPROTO_RAW)"
                                        : "socket(AF_INET6, SOCK_RAW, IPPROTO_RAW)",
                      errno);
  }
  FileDescriptor socket(fd);
  const int on = 1;
  if (family == AF_INET) {
    SystemCall("setsockopt(IP_HDRINCL)", ::setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, sizeof on));
    SystemCall("setsockopt(SO_BROADCAST)",
               ::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof on));
  } else {
#ifdef IPV6_HDRINCL
    SystemCall("setsockopt(IPV6_HDRINCL)",
               ::setsockopt(fd, IPPROTO_IPV6, IPV6_HDRINCL, &on, sizeof on));
#endif
  }
  SystemCall("setsockopt(SO_MARK)", ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark));
  // Transmit stamps are reported as bare stamps (no copy of the packet) for the sends that
  // ask for one (RawInjector::send_path); none is generated otherwise.
  const int report = SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_OPT_TSONLY;
  stamps = ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &report, sizeof report) == 0;
  // Departures come in bursts (a rate limit's backlog, a delay's whole window at once): room
  // for them, so that a burst is not refused with ENOBUFS.
  const int bytes = 8 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  }
  return socket;
}

// Control messages of one send: the outgoing interface (in_pktinfo, in6_pktinfo) and the
// request for a transmit stamp, each only when wanted.
struct Control {
  alignas(cmsghdr) char bytes[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(uint32_t))]{};
  size_t used = 0;

  template <typename Data>
  void add(int level, int type, const Data& data) {
    auto* c = reinterpret_cast<cmsghdr*>(bytes + used);
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(sizeof(Data));
    std::memcpy(CMSG_DATA(c), &data, sizeof data);
    used += CMSG_SPACE(sizeof(Data));
  }
  void attach(msghdr& msg) {
    if (used > 0) {
      msg.msg_control = bytes;
      msg.msg_controllen = used;
    }
  }
};

// The next message of the socket's error queue: its transmit stamp (CLOCK_REALTIME ns), 0 if it
// carries none, nullopt if the queue is empty.
std::optional<int64_t> take_stamp(int fd) noexcept {
  alignas(cmsghdr) char control[512];
  msghdr msg{};
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
    return std::nullopt;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING &&
        c->cmsg_len >= CMSG_LEN(sizeof(scm_timestamping))) {
      scm_timestamping stamps{};
      std::memcpy(&stamps, CMSG_DATA(c), sizeof stamps);
      const int64_t ns = nanos_of(stamps.ts[0]);
      if (ns > 0) {
        return ns;
      }
    }
  }
  return 0;
}

}  // namespace

RawInjector::RawInjector(uint32_t mark)
    : v4_(open_raw(AF_INET, mark, false, stamps_[0])),
      v6_(open_raw(AF_INET6, mark, true, stamps_[1])),
      mark_(mark) {}

void RawInjector::sample(int fd, int64_t before_ns) noexcept {
  // Stamps of earlier sends (a device that stamped them late) are older than this send: passed
  // over. None at all: this device stamps later, or not.
  std::optional<int64_t> stamp = take_stamp(fd);
  while (stamp && *stamp <= before_ns) {
    stamp = take_stamp(fd);
  }
  if (!stamp) {
    return;
  }
  const int64_t took = *stamp - before_ns;
  samples_.record(Duration{took});
  window_[taken_ % kWindow] = took;
  ++taken_;
  if (taken_ >= kMinSamples && taken_ % (kMinSamples / 2) == 0) {
    std::array<int64_t, kWindow> sorted = window_;
    const size_t n = std::min(taken_, kWindow);
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(n / 2),
                     sorted.begin() + static_cast<ptrdiff_t>(n));
    send_path_ = Duration{sorted[n / 2]};
  }
}

int RawInjector::send(std::span<const std::byte> ip, uint32_t ifindex) noexcept {
  if (ip.empty()) {
    return EINVAL;
  }
  const unsigned version = static_cast<unsigned>(ip[0]) >> 4;
  msghdr msg{};
  iovec iov{const_cast<std::byte*>(ip.data()), ip.size()};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  Control control;
  const size_t family = version == 4 ? 0 : 1;
  const bool sampled =
      (version == 4 || version == 6) && stamps_[family] && ++sends_ % kSampleEvery == 0;
  if (sampled) {
    const uint32_t record = SOF_TIMESTAMPING_TX_SOFTWARE;
    control.add(SOL_SOCKET, SO_TIMESTAMPING, record);
  }
  const auto send_on = [&](int fd) -> int {
    control.attach(msg);
    const int64_t before = sampled ? clock_ns(CLOCK_REALTIME) : 0;
    const ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      return errno;
    }
    if (sampled) {
      sample(fd, before);
    }
    return 0;
  };

  if (version == 4) {
    if (ip.size() < 20) {
      return EINVAL;
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    std::memcpy(&to.sin_addr, ip.data() + 16, 4);
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    if (ifindex > 0) {
      in_pktinfo info{};
      info.ipi_ifindex = static_cast<int>(ifindex);
      control.add(IPPROTO_IP, IP_PKTINFO, info);
    }
    return send_on(v4_.fd());
  }
  if (version == 6) {
    if (!v6_.valid()) {
      return EAFNOSUPPORT;
    }
    if (ip.size() < 40) {
      return EINVAL;
    }
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    std::memcpy(&to.sin6_addr, ip.data() + 24, 16);
    // Link-local and multicast destinations need their interface as scope.
    if (IN6_IS_ADDR_LINKLOCAL(&to.sin6_addr) || IN6_IS_ADDR_MULTICAST(&to.sin6_addr)) {
      to.sin6_scope_id = ifindex;
    }
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    if (ifindex > 0) {
      in6_pktinfo info{};
      info.ipi6_ifindex = ifindex;
      control.add(IPPROTO_IPV6, IPV6_PKTINFO, info);
    }
    return send_on(v6_.fd());
  }
  return EINVAL;
}

}  // namespace badlink
