// RawInjector: sendmsg() with the destination from the packet's own header and the interface
// in an IP_PKTINFO / IPV6_PKTINFO control message.
#include "divert/raw_injector.hh"

#include <netinet/in.h>
#include <netinet/ip.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "sys/system_error.hh"

namespace badlink {

namespace {

FileDescriptor open_raw(int family, uint32_t mark, bool optional) {
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
  // Departures come in bursts (a rate limit's backlog, a delay's whole window at once): room
  // for them, so that a burst is not refused with ENOBUFS.
  const int bytes = 8 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  }
  return socket;
}

// Pins the outgoing interface: one control message of `info` (in_pktinfo, in6_pktinfo).
template <typename Info>
void attach_pktinfo(msghdr& msg, char* control, int level, int type, const Info& info) {
  msg.msg_control = control;
  msg.msg_controllen = CMSG_SPACE(sizeof(Info));
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(sizeof(Info));
  std::memcpy(CMSG_DATA(c), &info, sizeof info);
}

}  // namespace

RawInjector::RawInjector(uint32_t mark)
    : v4_(open_raw(AF_INET, mark, false)), v6_(open_raw(AF_INET6, mark, true)), mark_(mark) {}

int RawInjector::send(std::span<const std::byte> ip, uint32_t ifindex) noexcept {
  if (ip.empty()) {
    return EINVAL;
  }
  const unsigned version = static_cast<unsigned>(ip[0]) >> 4;
  msghdr msg{};
  iovec iov{const_cast<std::byte*>(ip.data()), ip.size()};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))]{};

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
      attach_pktinfo(msg, control, IPPROTO_IP, IP_PKTINFO, info);
    }
    const ssize_t n = ::sendmsg(v4_.fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n < 0 ? errno : 0;
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
      attach_pktinfo(msg, control, IPPROTO_IPV6, IPV6_PKTINFO, info);
    }
    const ssize_t n = ::sendmsg(v6_.fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n < 0 ? errno : 0;
  }
  return EINVAL;
}

}  // namespace badlink
