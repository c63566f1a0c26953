// NfqueueBackend: the netlink conversation (bind, receive, verdict) after libnetfilter_queue's
// nf-queue.c example, with recvmmsg() batches and one sendto() for all verdicts of a round.
#include "divert/linux/nfqueue_backend.hh"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <net/if.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "core/gso.hh"
#include "core/ip_headers.hh"
#include "divert/linux/output_stamps.hh"
#include "sys/system_error.hh"

namespace badlink {

namespace {

constexpr uint32_t kCopyRange = 0xffff;

// At most one warning of a kind every few seconds: the per-packet path must not flood the log.
class Throttle {
 public:
  bool allow() {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::seconds(5) && started_) {
      return false;
    }
    started_ = true;
    last_ = now;
    return true;
  }

 private:
  std::chrono::steady_clock::time_point last_{};
  bool started_ = false;
};

Throttle resend_warning;
Throttle verdict_warning;
Throttle receive_warning;
Throttle direction_warning;

}  // namespace

void NfqueueBackend::SocketCloser::operator()(mnl_socket* s) const noexcept { mnl_socket_close(s); }

int NfqueueBackend::Channel::fd() const { return mnl_socket_get_fd(socket.get()); }

NfqueueBackend::Channel NfqueueBackend::open_channel(const NfqueueOptions& options) const {
  Channel c;
  c.socket.reset(mnl_socket_open(NETLINK_NETFILTER));
  if (!c.socket) {
    throw SystemError("socket(AF_NETLINK, NETLINK_NETFILTER)", errno);
  }
  if (mnl_socket_bind(c.socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    throw SystemError("bind(netlink)", errno);
  }
  const int fd = c.fd();

  // A large receive buffer absorbs bursts while the loop is busy sending; FORCE goes past
  // rmem_max (CAP_NET_ADMIN). What still overflows is ENOBUFS, counted, and passed by the
  // kernel (fail-open).
  const int rcv = options.receive_buffer_bytes;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0) {
    SystemCall("setsockopt(SO_RCVBUF)", ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv));
  }
  // The verdict batch goes to the kernel in one datagram, which must fit the send buffer.
  const int snd = 4 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
  }
  int snd_now = 0;
  socklen_t len = sizeof snd_now;
  SystemCall("getsockopt(SO_SNDBUF)", ::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd_now, &len));
  c.tx_buffer.resize(256 * 1024);
  c.tx_capacity = std::min(c.tx_buffer.size(), static_cast<size_t>(std::max(snd_now - 1024, 0)));
  c.tx_capacity = std::max<size_t>(c.tx_capacity, kBufferBytes);  // one full-size verdict
  c.tx_buffer.resize(std::max(c.tx_buffer.size(), c.tx_capacity));
  // Keep acknowledgements of failed verdicts short: the error and the header, not the payload.
  const int on = 1;
  ::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
  return c;
}

NfqueueBackend::NfqueueBackend(const NfqueueOptions& options)
    : bindings_(options.queues),
      max_length_(options.max_length),
      raw_(options.reinject_mark),
      held_(std::max<size_t>(options.max_length, 1024) * options.queues.size()),
      rx_buffers_(kBatch * kBufferBytes),
      rx_headers_(new mmsghdr[kBatch]),
      rx_iov_(new iovec[kBatch]),
      segment_buffer_(kBufferBytes) {
  size_t links = 1;
  for (const QueueBinding& b : bindings_) {
    links = std::max<size_t>(links, size_t{b.link} + 1);
  }
  links_.assign(links, LinkAdmission{});
  for (LinkAdmission& l : links_) {
    l.wan_ifindex = options.wan_ifindex;
  }
  header_copies_.assign(links, {});
  held_per_queue_.assign(bindings_.size(), 0);
  for (size_t i = 0; i < bindings_.size(); ++i) {
    channels_.push_back(open_channel(options));
  }
  // A direction that several queues carry is watched through one descriptor over them all.
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    const auto carried =
        std::count_if(bindings_.begin(), bindings_.end(),
                      [d](const QueueBinding& b) { return b.carries[index_of(d)]; });
    if (carried > 1 && !all_queues_) {
      all_queues_.emplace();
      for (size_t i = 0; i < channels_.size(); ++i) {
        all_queues_->add(channels_[i].fd(), EPOLLIN, i);
      }
    }
  }
  for (size_t i = 0; i < kBatch; ++i) {
    rx_iov_[i].iov_base = rx_buffers_.data() + i * kBufferBytes;
    rx_iov_[i].iov_len = kBufferBytes;
  }

  // Best effort: without it, packets that carry no stamp of their own are stamped when read.
  const int on = 1;
  timestamping_ = FileDescriptor(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (timestamping_) {
    ::setsockopt(timestamping_.fd(), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  }

  for (const QueueBinding& b : bindings_) {
    configure(b.number, true);
  }
}

NfqueueBackend::~NfqueueBackend() {
  // Unbinding drops whatever the kernel still holds: the caller hands everything back first.
  flush();
  for (const QueueBinding& b : bindings_) {
    alignas(nlmsghdr) char buf[256];
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, b.number);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
    if (mnl_socket_sendto(channel_of(b.number).socket.get(), nlh, nlh->nlmsg_len) < 0) {
      spdlog::warn("unbinding NFQUEUE {}: {}", b.number, std::strerror(errno));
    }
  }
}

void NfqueueBackend::configure(uint16_t queue, bool bind) {
  Channel& channel = channel_of(queue);
  alignas(nlmsghdr) char buf[1024];
  size_t length = 0;
  const uint32_t first = channel.seq + 1;
  if (bind) {
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
    nlh->nlmsg_flags |= NLM_F_ACK;
    nlh->nlmsg_seq = ++channel.seq;
    length += NLMSG_ALIGN(nlh->nlmsg_len);
  }
  nlmsghdr* nlh = nfq_nlmsg_put(buf + length, NFQNL_MSG_CONFIG, queue);
  // Cut only where every direction the queue carries is content with headers.
  const QueueBinding* binding = binding_of(queue);
  bool cut = binding != nullptr;
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    cut = cut && (!binding->carries[index_of(d)] || header_copies_[binding->link][index_of(d)]);
  }
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, cut ? kHeaderBytes : kCopyRange);
  nfq_nlmsg_cfg_put_qmaxlen(nlh, max_length_);
  // Fail open: a full queue passes packets unimpaired instead of dropping them. GSO: a
  // super-packet comes whole (one message, one verdict instead of one per segment); the
  // engine impairs it per wire packet and cuts it only when a segment's fate differs. UID:
  // tells a local sender's packet from a forwarded one where both pass (POSTROUTING).
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS,
                   htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK,
                   htonl(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO | NFQA_CFG_F_UID_GID));
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = ++channel.seq;
  length += NLMSG_ALIGN(nlh->nlmsg_len);

  const std::string what = (bind ? "bind NFQUEUE " : "configure NFQUEUE ") + std::to_string(queue);
  if (mnl_socket_sendto(channel.socket.get(), buf, length) < 0) {
    throw SystemError(what, errno);
  }
  wait_for_acks(channel, first, channel.seq, what);
}

void NfqueueBackend::wait_for_acks(Channel& channel, uint32_t first_seq, uint32_t last_seq,
                                   std::string_view what) {
  // The kernel answers a configuration message before sendto() returns, so the answers are
  // already queued; packets of a queue bound a moment ago may be queued among them and go on
  // at once.
  const int fd = channel.fd();
  uint32_t acked = 0;
  const uint32_t wanted = last_seq - first_seq + 1;
  std::vector<std::byte> buf(kBufferBytes);
  while (acked < wanted) {
    const ssize_t n = retry_eintr([&] { return ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT); });
    if (n < 0) {
      if (errno == ENOBUFS) {
        continue;
      }
      if (errno == EAGAIN) {
        pollfd p{fd, POLLIN, 0};
        if (retry_eintr([&] { return ::poll(&p, 1, 2000); }) == 0) {
          throw SystemError(std::string(what) + " (no answer from the kernel)", ETIMEDOUT);
        }
        continue;
      }
      throw SystemError(std::string(what) + " (reading the answer)", errno);
    }
    auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
    int remaining = static_cast<int>(n);
    for (; netlink_message_fits(nlh, remaining); nlh = mnl_nlmsg_next(nlh, &remaining)) {
      if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq >= first_seq &&
          nlh->nlmsg_seq <= last_seq) {
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error != 0) {
          throw SystemError(what, -err->error);
        }
        ++acked;
      } else if (nlh->nlmsg_type >= NLMSG_MIN_TYPE &&
                 stash_.size() + NLMSG_ALIGN(nlh->nlmsg_len) <= kMaxStash) {
        // A packet (or another message for receive()): kept for it, in order.
        const auto* bytes = reinterpret_cast<const std::byte*>(nlh);
        stash_.insert(stash_.end(), bytes, bytes + nlh->nlmsg_len);
        stash_.resize(stash_.size() + (NLMSG_ALIGN(nlh->nlmsg_len) - nlh->nlmsg_len));
      } else if (const auto packet = decode_packet_message(nlh)) {
        ++stats_.received;
        ++stats_.passed_busy;  // no room left to keep it: passed on unimpaired, counted
        verdict(packet->queue, packet->id, NF_ACCEPT);
        flush(channel);
      }
    }
  }
}

void NfqueueBackend::set_max_length(uint32_t max_length) {
  max_length_ = max_length;
  for (const QueueBinding& b : bindings_) {
    configure(b.number, false);
  }
  const size_t wanted = std::max<size_t>(max_length, 1024) * bindings_.size();
  if (wanted > held_.capacity()) {
    HandleTable bigger(wanted);
    held_.for_each([&](uint64_t key) { bigger.insert(key); });
    held_ = std::move(bigger);
  }
}

std::vector<uint16_t> NfqueueBackend::queue_numbers() const {
  std::vector<uint16_t> numbers;
  for (const QueueBinding& b : bindings_) {
    numbers.push_back(b.number);
  }
  return numbers;
}

int NfqueueBackend::fd(Direction d) const {
  int found = -1;
  for (size_t i = 0; i < bindings_.size(); ++i) {
    if (bindings_[i].carries[index_of(d)]) {
      if (found >= 0) {
        return all_queues_->fd();  // several queues: receive() reads them all in turn
      }
      found = channels_[i].fd();
    }
  }
  return found;
}

const QueueBinding* NfqueueBackend::binding_of(uint16_t queue) const {
  for (const QueueBinding& b : bindings_) {
    if (b.number == queue) {
      return &b;
    }
  }
  return nullptr;
}

std::string_view NfqueueBackend::interface_name(uint32_t ifindex) {
  if (ifindex == 0) {
    return {};
  }
  if (ifindex < kCachedInterfaces) {
    if (!named_[ifindex]) {
      char name[IF_NAMESIZE] = {};
      if (::if_indextoname(ifindex, name) == nullptr) {
        return {};  // gone already; try again next time
      }
      std::memcpy(names_[ifindex].data(), name, sizeof name);
      named_[ifindex] = true;
    }
    return names_[ifindex].data();
  }
  char name[IF_NAMESIZE] = {};
  if (::if_indextoname(ifindex, name) == nullptr) {
    return {};
  }
  std::memcpy(scratch_name_.data(), name, sizeof name);
  return scratch_name_.data();
}

uint32_t NfqueueBackend::interface_mtu(uint32_t ifindex) {
  constexpr uint32_t kFallback = 1500;
  if (ifindex == 0 || ifindex >= kCachedInterfaces || !timestamping_) {
    return kFallback;
  }
  if (mtus_[ifindex] == 0) {
    const std::string_view name = interface_name(ifindex);
    ifreq request{};
    std::memcpy(request.ifr_name, name.data(), std::min(name.size(), sizeof request.ifr_name - 1));
    mtus_[ifindex] = !name.empty() && ::ioctl(timestamping_.fd(), SIOCGIFMTU, &request) == 0 &&
                             request.ifr_mtu > 0
                         ? static_cast<uint32_t>(request.ifr_mtu)
                         : kFallback;
  }
  return mtus_[ifindex];
}

bool NfqueueBackend::refill() {
  for (size_t i = 0; i < kBatch; ++i) {
    std::memset(&rx_headers_[i], 0, sizeof(mmsghdr));
    rx_headers_[i].msg_hdr.msg_iov = &rx_iov_[i];
    rx_headers_[i].msg_hdr.msg_iovlen = 1;
  }
  // The socket that had something last, then the others; every kTurn reads the next one goes
  // first, so that a flood on one queue does not starve the other (always rotating would cost
  // an empty recvmmsg() per read under a one-way flood).
  constexpr uint64_t kTurn = 4;
  size_t tried = 0;
  for (;;) {
    if (tried == channels_.size()) {
      return false;
    }
    const size_t c = (next_channel_ + tried) % channels_.size();
    const int n = ::recvmmsg(channels_[c].fd(), rx_headers_.get(), kBatch, MSG_DONTWAIT, nullptr);
    if (n > 0) {
      next_channel_ = ++refills_ % kTurn == 0 ? (c + 1) % channels_.size() : c;
      // The kernel stamps in CLOCK_REALTIME; the engine runs on CLOCK_MONOTONIC.
      timespec r0{}, m{}, r1{};
      ::clock_gettime(CLOCK_REALTIME, &r0);
      ::clock_gettime(CLOCK_MONOTONIC, &m);
      ::clock_gettime(CLOCK_REALTIME, &r1);
      refilled_at_ = from_nanos(nanos_of(m));
      realtime_minus_monotonic_ = nanos_of(r0) + (nanos_of(r1) - nanos_of(r0)) / 2 - nanos_of(m);
      rx_count_ = static_cast<size_t>(n);
      rx_index_ = 0;
      rx_offset_ = 0;
      return true;
    }
    if (n == 0) {
      ++tried;
      continue;
    }
    switch (errno) {
      case EINTR:
        continue;
      case EAGAIN:
        ++tried;
        continue;
      case ENOBUFS:
        // The kernel could not deliver some packets (and passed them, failing open). The
        // socket works on: read on.
        ++stats_.receive_overruns;
        continue;
      default:
        ++stats_.receive_errors;
        if (receive_warning.allow()) {
          spdlog::warn("receiving from NFQUEUE: {}", std::strerror(errno));
        }
        ++tried;
        continue;
    }
  }
}

size_t NfqueueBackend::receive(std::span<Packet*> out, PacketPool& pool) {
  size_t produced = 0;
  while (produced < out.size() && stash_offset_ < stash_.size()) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(stash_.data() + stash_offset_);
    stash_offset_ += NLMSG_ALIGN(nlh->nlmsg_len);
    if (Packet* p = handle_message(nlh, pool)) {
      out[produced++] = p;
    }
  }
  if (stash_offset_ >= stash_.size() && !stash_.empty()) {
    stash_.clear();  // the capacity stays for the next reload
    stash_offset_ = 0;
  }
  while (produced < out.size()) {
    if (rx_index_ >= rx_count_ && !refill()) {
      break;
    }
    const mmsghdr& m = rx_headers_[rx_index_];
    const size_t length = m.msg_len;
    if ((m.msg_hdr.msg_flags & MSG_TRUNC) != 0) {
      ++stats_.receive_errors;  // cannot happen with buffers this large; never parse a part
      ++rx_index_;
      rx_offset_ = 0;
      continue;
    }
    if (rx_offset_ >= length) {
      ++rx_index_;
      rx_offset_ = 0;
      continue;
    }
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(rx_buffers_.data() +
                                                        rx_index_ * kBufferBytes + rx_offset_);
    const int remaining = static_cast<int>(length - rx_offset_);
    if (!netlink_message_fits(nlh, remaining)) {
      ++stats_.receive_errors;
      ++rx_index_;
      rx_offset_ = 0;
      continue;
    }
    rx_offset_ += NLMSG_ALIGN(nlh->nlmsg_len);
    if (Packet* p = handle_message(nlh, pool)) {
      out[produced++] = p;
    }
  }
  return produced;
}

Packet* NfqueueBackend::handle_message(const nlmsghdr* message, PacketPool& pool) {
  if (message->nlmsg_type == NLMSG_ERROR) {
    const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(message));
    if (message->nlmsg_len >= NLMSG_HDRLEN + sizeof(int) && err->error != 0) {
      ++stats_.verdict_failed;
      if (verdict_warning.allow()) {
        spdlog::warn("the kernel refused a verdict: {}", std::strerror(-err->error));
      }
    }
    return nullptr;
  }
  if (message->nlmsg_type < NLMSG_MIN_TYPE) {
    return nullptr;  // NOOP, DONE, OVERRUN
  }
  const std::optional<QueuedPacket> q = decode_packet_message(message);
  if (!q) {
    ++stats_.receive_errors;
    return nullptr;
  }
  ++stats_.received;
  const QueueBinding* binding = binding_of(q->queue);
  const Admission a = admit(*q, binding != nullptr ? &links_[binding->link] : nullptr);
  if (a.mode == QueueMode::copy) {
    resent_[index_of(a.direction)] = true;
  }
  switch (a.outcome) {
    case AdmissionOutcome::divert:
      break;
    case AdmissionOutcome::pass_through:
      ++stats_.passed_through;
      accept_now(q->queue, q->id);
      return nullptr;
    case AdmissionOutcome::pass_unbound:
      ++stats_.passed_busy;
      verdict(q->queue, q->id, NF_ACCEPT);
      return nullptr;
    case AdmissionOutcome::pass_unclassified:
      ++stats_.passed_unclassified;
      if (direction_warning.allow()) {
        spdlog::warn(
            "NFQUEUE {}: a packet caught in {} (in if#{}, out if#{}) travels no direction "
            "badlink can tell{}: passed unimpaired",
            q->queue, hook_name(q->hook), q->indev, q->outdev,
            links_.front().wan_ifindex == 0 ? " (a forwarded packet needs --wan)" : "");
      }
      verdict(q->queue, q->id, NF_ACCEPT);
      return nullptr;
    case AdmissionOutcome::pass_truncated:
      ++stats_.passed_truncated;
      verdict(q->queue, q->id, NF_ACCEPT);
      return nullptr;
    case AdmissionOutcome::pass_malformed:
      ++stats_.passed_malformed;
      verdict(q->queue, q->id, NF_ACCEPT);
      return nullptr;
  }
  const bool copy = a.mode == QueueMode::copy;
  const size_t keep = a.keep;
  Packet* p = pool.allocate(keep);
  if (p == nullptr) {
    ++stats_.passed_no_buffer;
    verdict(q->queue, q->id, NF_ACCEPT);
    return nullptr;
  }
  std::memcpy(p->data(), q->payload.data(), keep);
  p->length = static_cast<uint32_t>(keep);
  p->wire_length = static_cast<uint32_t>(q->truncated() ? q->cap_len : q->payload.size());
  p->l3_offset = 0;
  p->flags = 0;
  const uint32_t ifindex = packet_ifindex(*q, a.direction);
  p->address = divert_address(*q, a.direction, interface_name(ifindex));
  p->address.link = binding->link;
  if ((q->skb_info & NFQA_SKB_GSO) != 0) {
    // NFQUEUE does not say the segment size: it is what the interface's MTU leaves after
    // these headers (TCP's MSS with its options), as the stack chose it for this device.
    const uint32_t size = gso_size_for_mtu(q->payload, a.headers, interface_mtu(ifindex));
    p->address.gso_size = static_cast<uint16_t>(std::min<uint32_t>(size, 0xffff));
    ++stats_.gso_super_packets;
  }
  p->arrival = kernel_arrival(q->timestamp_ns);
  if (p->arrival == TimePoint{} && output_stamps_since_ != 0 && q->hook == NF_INET_LOCAL_OUT &&
      q->mark != 0) {
    p->arrival = mark_arrival(q->mark);
  }
  if (p->arrival != TimePoint{}) {
    ++stats_.kernel_stamped;
  }

  if (copy) {
    verdict(q->queue, q->id, NF_DROP);  // the copy goes on later, through the raw socket
  } else if (!held_.insert(handle_key(q->queue, q->id))) {
    ++stats_.passed_busy;
    verdict(q->queue, q->id, NF_ACCEPT);
    pool.release(p);
    return nullptr;
  } else {
    ++held_per_queue_[queue_index(q->queue)];
  }
  ++stats_.diverted;
  return p;
}

void NfqueueBackend::set_link(uint16_t link,
                              const std::array<DirectionAdmission, kDirections>& admission,
                              const std::array<bool, kDirections>& header_copies) noexcept {
  if (link >= links_.size()) {
    return;
  }
  links_[link].directions = admission;
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    try {
      set_header_copies(link, d, header_copies[index_of(d)]);
    } catch (const SystemError& e) {
      spdlog::warn("{}: packets keep coming whole: {}", to_string(d), e.what());
    }
  }
}

void NfqueueBackend::set_header_copies(uint16_t link, Direction direction, bool header_copies) {
  bool& current = header_copies_[link][index_of(direction)];
  if (current == header_copies) {
    return;
  }
  current = header_copies;
  const auto reconfigure = [&]() {
    for (const QueueBinding& b : bindings_) {
      if (b.link == link && b.carries[index_of(direction)]) {
        configure(b.number, false);
      }
    }
  };
  try {
    reconfigure();
  } catch (const SystemError&) {
    current = !header_copies;  // whole copies on: packets cut meanwhile are passed, counted
    try {
      reconfigure();
    } catch (const SystemError&) {
    }
    throw;
  }
}

TimePoint NfqueueBackend::kernel_arrival(int64_t realtime_ns) const {
  if (realtime_ns == 0) {
    return {};
  }
  // The stamp has microsecond resolution: the middle of its microsecond. A stamp from
  // another clock (TCP's departure times are CLOCK_MONOTONIC), or from before a clock step,
  // lands far from now: the caller stamps those packets.
  const TimePoint t = from_nanos(realtime_ns - realtime_minus_monotonic_ + 500);
  if (t > refilled_at_ + std::chrono::milliseconds(1) ||
      t < refilled_at_ - std::chrono::seconds(2)) {
    return {};
  }
  return std::min(t, refilled_at_);
}

void NfqueueBackend::set_output_stamps(bool on) {
  output_stamps_since_ = on ? clock_ns(CLOCK_REALTIME) : 0;
}

TimePoint NfqueueBackend::mark_arrival(uint32_t mark) const {
  const int64_t now = to_nanos(refilled_at_) + realtime_minus_monotonic_;
  const std::optional<int64_t> taken = stamp_time_ns(mark, now, output_stamps_since_);
  if (!taken) {
    return {};
  }
  return refilled_at_ - std::chrono::nanoseconds(now - *taken);
}

size_t NfqueueBackend::verdict(uint16_t queue, uint32_t id, int verdict,
                               std::span<const std::byte> payload) {
  Channel& c = channel_of(queue);
  const size_t needed = 128 + MNL_ALIGN(payload.size());
  if (c.tx_length + needed > c.tx_capacity) {
    flush(c);
  }
  const size_t offset = c.tx_length;
  nlmsghdr* nlh = nfq_nlmsg_put(reinterpret_cast<char*>(c.tx_buffer.data() + c.tx_length),
                                NFQNL_MSG_VERDICT, queue);
  nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), verdict);
  if (!payload.empty()) {
    nfq_nlmsg_verdict_put_pkt(nlh, payload.data(), static_cast<uint32_t>(payload.size()));
  }
  c.tx_length += NLMSG_ALIGN(nlh->nlmsg_len);
  ++c.tx_messages;
  c.batch_offset = kNoBatch;
  return offset;
}

size_t NfqueueBackend::queue_index(uint16_t queue) const {
  for (size_t i = 0; i < bindings_.size(); ++i) {
    if (bindings_[i].number == queue) {
      return i;
    }
  }
  return 0;  // not reached: only bound queues' packets are held
}

bool NfqueueBackend::erase_held(uint16_t queue, uint64_t id) {
  if (!held_.erase(handle_key(queue, id))) {
    return false;
  }
  --held_per_queue_[queue_index(queue)];
  return true;
}

void NfqueueBackend::accept_now(uint16_t queue, uint32_t id) {
  // NFQNL_MSG_VERDICT_BATCH accepts every packet of the queue up to its id: only right while
  // this queue holds nothing (every earlier id is answered) and the ids run on unbroken.
  if (held_per_queue_[queue_index(queue)] != 0) {
    verdict(queue, id, NF_ACCEPT);
    return;
  }
  Channel& c = channel_of(queue);  // its queue's only: the batch never mixes queues
  if (c.batch_offset != kNoBatch && id == c.batch_last_id + 1) {
    auto* nlh = reinterpret_cast<nlmsghdr*>(c.tx_buffer.data() + c.batch_offset);
    nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH;
    auto* attr = static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
    auto* header = static_cast<nfqnl_msg_verdict_hdr*>(mnl_attr_get_payload(attr));
    header->id = htonl(id);
    c.batch_last_id = id;
    return;
  }
  const size_t offset = verdict(queue, id, NF_ACCEPT);
  c.batch_offset = offset;
  c.batch_last_id = id;
}

void NfqueueBackend::flush() {
  for (Channel& c : channels_) {
    flush(c);
  }
}

void NfqueueBackend::flush(Channel& c) {
  if (c.tx_length == 0) {
    return;
  }
  if (mnl_socket_sendto(c.socket.get(), c.tx_buffer.data(), c.tx_length) < 0) {
    stats_.verdict_failed += c.tx_messages;
    if (verdict_warning.allow()) {
      spdlog::warn("sending {} verdicts: {}", c.tx_messages, std::strerror(errno));
    }
  }
  c.tx_length = 0;
  c.tx_messages = 0;
  c.batch_offset = kNoBatch;
}

void NfqueueBackend::resend(Packet& packet) {
  if (packet.length < packet.wire_length) {
    // Only the headers were kept (the kernel held the packet): nothing whole to send. The
    // engine never asks this of a headers-only direction; counted, should it ever happen.
    ++stats_.resend_failed;
    return;
  }
  std::span<std::byte> ip = packet.l3();
  const IpHeaders h = parse_ip(ip);
  if (packet.address.gso_size > 0 && h.ok()) {
    // A super-packet passed whole: the raw socket takes wire packets only (no GSO, and DF
    // forbids fragmenting), so it is cut here, each segment with its checksums in full.
    if (const auto layout = gso_layout(ip, h, packet.address.gso_size);
        layout && layout->segments > 1) {
      for (uint32_t i = 0; i < layout->segments; ++i) {
        const size_t n = gso_write_segment(ip, h, *layout, i, segment_buffer_);
        send_raw({segment_buffer_.data(), n}, packet);
        ++stats_.segments_resent;
      }
      ++stats_.reinjected;
      return;
    }
  }
  if (packet.address.checksum_partial) {
    // The kernel left the transport checksum to the NIC; the raw path has no NIC to do it.
    if (h.ok()) {
      fix_l4_checksum(ip, h);
    }
    packet.address.checksum_partial = false;
  }
  send_raw(ip, packet);
  ++stats_.reinjected;
}

void NfqueueBackend::send_raw(std::span<const std::byte> ip, const Packet& packet) {
  // Verdicts batched before this packet leave first: the raw path goes out at once, and
  // must not overtake packets whose departure came earlier (or at the same time).
  flush();
  // An outbound packet's address names the interface it was leaving by: it keeps it. An
  // inbound one names where it arrived, not where to go: it is routed afresh (to this host,
  // or on through the gateway).
  const uint32_t ifindex =
      packet.address.direction == Direction::outbound ? packet.address.ifindex : 0;
  const int error = raw_.send(ip, ifindex);
  if (error != 0) {
    ++stats_.resend_failed;
    if (resend_warning.allow()) {
      spdlog::warn("resending a {} packet of {} bytes: {}", to_string(packet.address.direction),
                   ip.size(), std::strerror(error));
    }
    return;
  }
  ++stats_.resent;
}

void NfqueueBackend::reinject(Packet& packet) {
  // Held: the kernel still has it and gets its verdict. Not held: copied at receive (a local
  // sender's packet), or a second copy whose original already took the verdict.
  if (erase_held(packet.address.queue, packet.address.handle)) {
    // The first copy to leave takes the kernel's packet; a corrupted one replaces its bytes.
    const bool changed =
        (packet.flags & Packet::kCorrupted) != 0 && packet.length == packet.wire_length;
    if (changed && packet.address.checksum_partial) {
      // The kernel left the checksum to offload (it holds the pseudo-header sum only); a
      // verdict with new bytes is checked in full, so it gets the whole sum, over the damage.
      std::span<std::byte> ip = packet.l3();
      if (const IpHeaders h = parse_ip(ip); h.ok()) {
        fix_l4_checksum(ip, h);
      }
      packet.address.checksum_partial = false;
    }
    verdict(packet.address.queue, static_cast<uint32_t>(packet.address.handle), NF_ACCEPT,
            changed ? std::span<const std::byte>(packet.l3()) : std::span<const std::byte>{});
    ++stats_.reinjected;
    return;
  }
  resend(packet);
}

void NfqueueBackend::pass(Packet& packet) {
  // Held: the kernel still has it and gets its verdict. Not held: copied at receive (a local
  // sender's packet), or a second copy whose original already took the verdict.
  if (erase_held(packet.address.queue, packet.address.handle)) {
    verdict(packet.address.queue, static_cast<uint32_t>(packet.address.handle), NF_ACCEPT);
    ++stats_.reinjected;
    return;
  }
  resend(packet);
}

Duration NfqueueBackend::send_lead(Direction d) const {
  if (!resent_[index_of(d)]) {
    return Duration{0};
  }
  return std::min(raw_.send_path().value_or(Duration{0}), kMaxSendLead);
}

void NfqueueBackend::consume(const DivertAddress& address) {
  if (erase_held(address.queue, address.handle)) {
    verdict(address.queue, static_cast<uint32_t>(address.handle), NF_DROP);
  }
  ++stats_.consumed;
}

BackendStats NfqueueBackend::stats_with_held() const {
  BackendStats s = stats_;
  s.held = held_.size();
  return s;
}

}  // namespace badlink
