// The Linux divert backend: NFQUEUE through libmnl, with raw-socket reinjection for packets
// this host sends (see QueueMode) and batched receive and verdicts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "divert/divert.hh"
#include "divert/linux/handle_table.hh"
#include "divert/linux/nfqueue_admission.hh"
#include "divert/linux/nfqueue_message.hh"
#include "divert/linux/raw_injector.hh"
#include "sys/epoll.hh"
#include "sys/file_descriptor.hh"

struct mnl_socket;
struct nlmsghdr;
struct mmsghdr;
struct iovec;

namespace badlink {

// One queue to bind: a link's divert port. Which directions the rules feeding it can catch is
// a hint for its descriptor and its copy range only; each packet's direction is its own
// (packet_direction), so a queue with both directions' rules carries both.
struct QueueBinding {
  uint16_t number = 0;
  std::array<bool, kDirections> carries{true, true};
  uint16_t link = 0;  // the link its packets belong to (DivertAddress::link)
};

struct NfqueueOptions {
  std::vector<QueueBinding> queues;     // one per queue number to bind
  uint32_t wan_ifindex = 0;             // gateway mode: --wan's index (packet_direction)
  uint32_t max_length = 4096;           // packets the kernel may hold per queue
  int receive_buffer_bytes = 32 << 20;  // the netlink socket's (SO_RCVBUFFORCE)
  uint32_t reinject_mark = 0;           // SO_MARK of the raw sockets; rules must skip it
};

class NfqueueBackend final : public DivertBackend {
 public:
  // Opens a netlink socket per queue and binds the queue to it (copy whole packets, fail
  // open, GSO super-packets taken whole, `max_length`): a direction whose packets only one
  // queue carries has that queue's descriptor, so the loop may watch one and not the other;
  // one that several carry shares an epoll descriptor over all of them with the other. Throws
  // SystemError; binding a queue another program holds fails with EBUSY.
  explicit NfqueueBackend(const NfqueueOptions& options);
  ~NfqueueBackend() override;
  NfqueueBackend(const NfqueueBackend&) = delete;
  NfqueueBackend& operator=(const NfqueueBackend&) = delete;

  size_t receive(std::span<Packet*> out, PacketPool& pool) override;
  void reinject(Packet& packet) override;
  void pass(Packet& packet) override;
  void consume(const DivertAddress& address) override;
  void flush() override;
  int fd(Direction d) const override;
  BackendStats stats() const override { return stats_with_held(); }
  uint64_t received() const override { return stats_.received; }
  bool buffered() const override { return stash_offset_ < stash_.size(); }
  // For a direction whose packets it sends again through the raw socket (a local sender's,
  // copied): that socket's measured send path (RawInjector::send_path), at most kMaxSendLead.
  Duration send_lead(Direction d) const override;
  static constexpr Duration kMaxSendLead = std::chrono::microseconds(50);
  const RawInjector& injector() const { return raw_; }

  // What link `link`'s queues admit (nfqueue_admission.hh; the WAN index is the backend's):
  // - passthrough: its profile changes nothing: a local sender's packets are held and accepted
  //   (one verdict, the kernel's own packet) instead of copied, dropped and resent, and released
  //   in the batch they arrived in, so no sender is throttled by holding them;
  // - headers_only: it only delays: of a packet the kernel holds, only the headers are copied
  //   (the engine needs no more; 20,000 held packets take a few MB instead of 40);
  // - bypass: it changes nothing and nobody watches (no --dump): packets skip the engine and
  //   are accepted as read, runs of them with one NFQNL_MSG_VERDICT_BATCH (passed_through).
  // And for each direction whether the kernel copies only the first kHeaderBytes of its
  // packets (NFQUEUE's copy range; NFQA_CAP_LEN gives the full length) instead of up to 64 KB,
  // on the queues that carry only directions that want it: for a direction whose packets are
  // never sent again from their bytes (held and accepted with headers_only, or bypassed). A
  // TCP super-packet then costs a few hundred bytes of netlink traffic. Changing it
  // reconfigures the queues: best effort, a failure is logged and whole copies stay (a cut
  // packet met where the whole one is needed is passed on unimpaired and counted). Never
  // throws; a link with no queue is ignored.
  void set_link(uint16_t link, const std::array<DirectionAdmission, kDirections>& admission,
                const std::array<bool, kDirections>& header_copies) noexcept;
  static constexpr uint32_t kHeaderBytes = 512;

  // Packets queued at OUTPUT carry their arrival stamp in their mark (OutputStamps installed
  // the rules that write it, and call this once they are in): their arrival is the read time
  // minus the stamp's age. A mark that would date from before this call, or from more than a
  // second before the read, is not taken for a stamp -- a packet queued before the rules
  // were in has the mark its sender gave it. Off again before the rules go.
  void set_output_stamps(bool on);

  // A new per-queue limit (a reload changed the delays); throws SystemError.
  void set_max_length(uint32_t max_length);

  std::vector<uint16_t> queue_numbers() const;
  uint32_t max_length() const { return max_length_; }

 private:
  static constexpr size_t kBatch = 32;                    // datagrams per recvmmsg()
  static constexpr size_t kBufferBytes = 0x10000 + 8192;  // one packet of 64 KiB and its attrs

  struct SocketCloser {
    void operator()(mnl_socket* s) const noexcept;
  };

  std::vector<LinkAdmission> links_;  // by QueueBinding::link
  std::vector<std::array<bool, kDirections>> header_copies_;  // by link
  void set_header_copies(uint16_t link, Direction direction, bool header_copies);
  std::array<bool, kDirections> resent_{};  // packets of it have been copied to be sent again
  std::vector<uint32_t> held_per_queue_;  // by index in bindings_: a batch verdict needs none held
  size_t queue_index(uint16_t queue) const;
  static constexpr size_t kNoBatch = ~size_t{0};
  // One netlink socket per queue (by index in bindings_): a verdict must go through the socket
  // its queue is bound to. Each batches its verdicts into one sendto() per flush().
  struct Channel {
    std::unique_ptr<mnl_socket, SocketCloser> socket;
    uint32_t seq = 0;
    std::vector<std::byte> tx_buffer;
    size_t tx_capacity = 0;
    size_t tx_length = 0;
    size_t tx_messages = 0;
    // The last message in tx_buffer, while it is a plain accept that later ids of the same
    // queue may extend into a batch verdict.
    size_t batch_offset = kNoBatch;
    uint32_t batch_last_id = 0;
    int fd() const;
  };
  std::vector<Channel> channels_;
  size_t next_channel_ = 0;  // refill() tries this one first, then the others in turn
  uint64_t refills_ = 0;
  Channel open_channel(const NfqueueOptions& options) const;
  Channel& channel_of(uint16_t queue) { return channels_[queue_index(queue)]; }
  void flush(Channel& channel);
  void accept_now(uint16_t queue, uint32_t id);
  bool erase_held(uint16_t queue, uint64_t id);
  const QueueBinding* binding_of(uint16_t queue) const;
  bool refill();
  Packet* handle_message(const nlmsghdr* message, PacketPool& pool);
  // Appends one verdict message; returns its offset in the verdict buffer.
  size_t verdict(uint16_t queue, uint32_t id, int verdict, std::span<const std::byte> payload = {});
  void resend(Packet& packet);
  void configure(uint16_t queue, bool bind);
  void wait_for_acks(Channel& channel, uint32_t first_seq, uint32_t last_seq,
                     std::string_view what);
  std::string_view interface_name(uint32_t ifindex);
  uint32_t interface_mtu(uint32_t ifindex);
  void send_raw(std::span<const std::byte> ip, const Packet& packet);
  BackendStats stats_with_held() const;

  TimePoint kernel_arrival(int64_t realtime_ns) const;
  TimePoint mark_arrival(uint32_t mark) const;

  // A socket asking for receive timestamps turns the kernel's timestamping on host-wide, so
  // that every queued packet carries NFQA_TIMESTAMP (when it arrived, or was queued).
  FileDescriptor timestamping_;
  int64_t realtime_minus_monotonic_ = 0;  // sampled at each refill()
  TimePoint refilled_at_{};               // CLOCK_MONOTONIC, at the same moment
  // CLOCK_REALTIME ns since which queued packets carry stamps; 0: they do not.
  int64_t output_stamps_since_ = 0;
  std::vector<QueueBinding> bindings_;
  // Readable when any queue is: the descriptor of a direction that several queues carry.
  std::optional<Epoll> all_queues_;
  uint32_t max_length_;
  RawInjector raw_;
  HandleTable held_;

  // Packet messages that came among a configuration's acknowledgements (wait_for_acks), kept
  // for receive(): a reload that reconfigures a queue does not pass what it reads unimpaired.
  static constexpr size_t kMaxStash = 8 << 20;
  std::vector<std::byte> stash_;
  size_t stash_offset_ = 0;

  // Receive side: kBatch buffers filled by one recvmmsg(), walked message by message.
  std::vector<std::byte> rx_buffers_;
  std::unique_ptr<mmsghdr[]> rx_headers_;
  std::unique_ptr<iovec[]> rx_iov_;
  size_t rx_count_ = 0;
  size_t rx_index_ = 0;
  size_t rx_offset_ = 0;

  // ifindex -> name, looked up once per interface.
  static constexpr size_t kCachedInterfaces = 256;
  std::array<std::array<char, 16>, kCachedInterfaces> names_{};
  std::array<bool, kCachedInterfaces> named_{};
  std::array<uint32_t, kCachedInterfaces> mtus_{};  // 0: not looked up yet
  std::vector<std::byte> segment_buffer_;           // one wire packet cut from a super-packet
  std::array<char, 16> scratch_name_{};

  BackendStats stats_;
};

}  // namespace badlink
