// The kernel's own count of a queue, from /proc/net/netfilter/nfnetlink_queue: what it held,
// and what it dropped before badlink ever saw it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace badlink {

struct KernelQueueStats {
  uint16_t queue = 0;
  uint32_t peer_portid = 0;
  uint32_t queue_total = 0;  // packets waiting for a verdict now
  uint32_t copy_mode = 0;
  uint32_t copy_range = 0;
  uint64_t queue_dropped = 0;  // dropped because the queue was full (not with fail-open)
  uint64_t user_dropped = 0;   // dropped because the netlink socket could not take them
  uint32_t id_sequence = 0;    // last packet id
};

// Parses the file's text: one line per bound queue, whitespace separated. Lines that do not
// parse are skipped.
std::vector<KernelQueueStats> parse_kernel_queue_stats(std::string_view text);

// Reads the file (of the current network namespace) and keeps the queues in `queues`; empty
// when the file cannot be read.
std::vector<KernelQueueStats> read_kernel_queue_stats(std::span<const uint16_t> queues);

}  // namespace badlink
