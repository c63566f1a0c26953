// The floor for badlink's live mode: the least a userspace NFQUEUE consumer can do. It binds
// one queue, copies whole packets (as badlink does: COPY_PACKET, range 0xffff) and answers
// every packet with one NF_ACCEPT verdict, nothing else. scripts/bench-live compares badlink
// with it on the same iptables rule.
//
// Usage: nfq_accept_loop QUEUE [MAXLEN]   (runs until SIGINT/SIGTERM; prints the count)
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

volatile std::sig_atomic_t stop = 0;
mnl_socket* nl = nullptr;
unsigned long long accepted = 0;

void on_signal(int) { stop = 1; }

void send_or_die(nlmsghdr* nlh, const char* what) {
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
    std::fprintf(stderr, "nfq_accept_loop: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
  }
}

int on_packet(const nlmsghdr* nlh, void*) {
  nlattr* attr[NFQA_MAX + 1] = {};
  if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == nullptr) {
    return MNL_CB_OK;
  }
  const auto* ph =
      static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
  const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
  alignas(nlmsghdr) char buf[256];
  nlmsghdr* v = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, ntohs(nfg->res_id));
  nfq_nlmsg_verdict_put(v, static_cast<int>(ntohl(ph->packet_id)), NF_ACCEPT);
  send_or_die(v, "verdict");
  ++accepted;
  return MNL_CB_OK;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: nfq_accept_loop QUEUE [MAXLEN]\n");
    return 2;
  }
  const auto queue = static_cast<uint16_t>(std::strtoul(argv[1], nullptr, 10));
  const auto maxlen = static_cast<uint32_t>(argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 65536);
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: recv returns EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  nl = mnl_socket_open(NETLINK_NETFILTER);
  if (nl == nullptr || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    std::perror("nfq_accept_loop: netlink");
    return 1;
  }
  const int rcv = 64 << 20;
  if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0) {
    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  }
  const int on = 1;
  setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_NO_ENOBUFS, &on, sizeof on);

  alignas(nlmsghdr) char buf[1024];
  nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
  send_or_die(nlh, "bind");
  nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
  nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
  send_or_die(nlh, "configure");
  std::fprintf(stderr, "nfq_accept_loop: listening on queue %u\n", queue);

  const unsigned portid = mnl_socket_get_portid(nl);
  std::vector<char> rx(0xffff + (MNL_SOCKET_BUFFER_SIZE / 2));
  while (stop == 0) {
    const ssize_t n = mnl_socket_recvfrom(nl, rx.data(), rx.size());
    if (n < 0) {
      if (errno == EINTR || errno == ENOBUFS) {
        continue;
      }
      std::perror("nfq_accept_loop: recv");
      return 1;
    }
    if (mnl_cb_run(rx.data(), static_cast<size_t>(n), 0, portid, on_packet, nullptr) < 0 &&
        errno != 0 && stop == 0) {
      // Error acknowledgements (there are none without NLM_F_ACK) end here; keep going.
    }
  }
  nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
  mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
  mnl_socket_close(nl);
  std::printf("accepted=%llu\n", accepted);
  return 0;
}
