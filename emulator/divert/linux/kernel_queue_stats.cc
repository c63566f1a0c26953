// Reading /proc/net/netfilter/nfnetlink_queue.
#include "divert/linux/kernel_queue_stats.hh"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace badlink {

namespace {

bool next_number(std::string_view& rest, uint64_t& value) {
  const size_t start = rest.find_first_not_of(" \t");
  if (start == std::string_view::npos) {
    return false;
  }
  rest.remove_prefix(start);
  const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc{}) {
    return false;
  }
  rest.remove_prefix(static_cast<size_t>(ptr - rest.data()));
  return true;
}

}  // namespace

std::vector<KernelQueueStats> parse_kernel_queue_stats(std::string_view text) {
  std::vector<KernelQueueStats> out;
  while (!text.empty()) {
    const size_t eol = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(std::min(eol + 1, text.size()));
    uint64_t v[8];
    bool ok = true;
    for (uint64_t& x : v) {
      ok = ok && next_number(line, x);
    }
    if (!ok || v[0] > 65535) {
      continue;
    }
    KernelQueueStats s;
    s.queue = static_cast<uint16_t>(v[0]);
    s.peer_portid = static_cast<uint32_t>(v[1]);
    s.queue_total = static_cast<uint32_t>(v[2]);
    s.copy_mode = static_cast<uint32_t>(v[3]);
    s.copy_range = static_cast<uint32_t>(v[4]);
    s.queue_dropped = v[5];
    s.user_dropped = v[6];
    s.id_sequence = static_cast<uint32_t>(v[7]);
    out.push_back(s);
  }
  return out;
}

std::vector<KernelQueueStats> read_kernel_queue_stats(std::span<const uint16_t> queues) {
  std::ifstream file("/proc/net/netfilter/nfnetlink_queue");
  if (!file) {
    return {};
  }
  std::ostringstream text;
  text << file.rdbuf();
  std::vector<KernelQueueStats> all = parse_kernel_queue_stats(text.str());
  std::erase_if(all, [&](const KernelQueueStats& s) {
    return std::find(queues.begin(), queues.end(), s.queue) == queues.end();
  });
  return all;
}

}  // namespace badlink
