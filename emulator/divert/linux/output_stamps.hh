// OutputStamps: kernel arrival stamps for what this host sends.
//
// The kernel stamps packets queued at PREROUTING, INPUT and FORWARD (NFQA_TIMESTAMP), but not
// at OUTPUT: a local sender's packet would be timed from when badlink read it, one wake-up of
// this machine late (15-70 us here). So badlink installs an nf_tables table of its own whose
// chain runs at OUTPUT just before the mangle table (priority -151), selects exactly the
// packets its NFQUEUE rules will queue (the same [match] terms, interface and skip mark), and
// writes the low 32 bits of the kernel's CLOCK_REALTIME in nanoseconds (`meta time`) into the
// packet's mark, with its lowest bit set opposite to the skip mark's, so that it never equals
// it. NFQUEUE reports the mark (NFQA_MARK); the packet's arrival is the read time minus the
// mark's age (the mark wraps every 4.29 s; a packet is read within milliseconds).
//
// Nothing else is touched: a packet these rules stamp is queued at OUTPUT by badlink's rule
// and dropped there (the copy leaves later through the raw socket, with badlink's own mark),
// so the overwritten mark never travels. The table is created with NFT_TABLE_F_OWNER: it
// belongs to this object's netlink socket, and the kernel deletes it when the socket closes,
// however badlink ends (even killed). nft's command line cannot write `meta time` into the
// mark (it refuses the type), hence the expressions are built here with libmnl.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hh"
#include "divert/linux/firewall_rules.hh"
#include "sys/file_descriptor.hh"

namespace badlink {

struct StampLayout {
  std::string table;       // "badlink-<pid>"
  std::string interface;   // [match] interface (iptables -o semantics, '+' a wildcard);
                           // empty: any but loopback
  uint32_t skip_mark = 0;  // badlink's own packets: never stamped
  MatchTerms ipv4;         // empty: no IPv4 packet is stamped
  MatchTerms ipv6;
  int priority = -151;  // just before mangle (NF_IP_PRI_MANGLE = -150)

  friend bool operator==(const StampLayout&, const StampLayout&) = default;
};

// The nf_tables batch that creates the table, its chains and rules: netlink messages between
// a batch begin and end, seq numbers from `first_seq`, each but those two asking for an
// acknowledgement. No sockets: testable.
std::vector<std::byte> stamp_batch(const StampLayout& layout, uint32_t first_seq);
struct BatchCount {
  size_t acked = 0;  // messages that want an acknowledgement
  size_t rules = 0;  // of them, rules
};
BatchCount count_batch(std::span<const std::byte> batch);

// The mark's lowest bit, as the rules set it: the opposite of the skip mark's.
constexpr uint32_t stamp_low_bit(uint32_t skip_mark) { return (~skip_mark) & 1U; }

// How long ago the stamp `mark` was taken, seen at `now_realtime_ns` (CLOCK_REALTIME): the
// difference of the low 32 bits, modulo 2^32 (an error of at most 1 ns from the forced bit).
constexpr int64_t stamp_age_ns(uint32_t mark, int64_t now_realtime_ns) {
  return static_cast<uint32_t>(static_cast<uint32_t>(now_realtime_ns) - mark);
}

// When the stamp `mark`, read at `now_realtime_ns`, was taken (CLOCK_REALTIME ns) -- or nullopt
// when the mark cannot be a stamp: older than `max_age_ns`, or from before `since_realtime_ns`,
// when the stamps began (a packet queued before them carries its sender's own mark).
constexpr std::optional<int64_t> stamp_time_ns(uint32_t mark, int64_t now_realtime_ns,
                                               int64_t since_realtime_ns,
                                               int64_t max_age_ns = 1'000'000'000) {
  const int64_t taken = now_realtime_ns - stamp_age_ns(mark, now_realtime_ns);
  if (now_realtime_ns - taken > max_age_ns || taken < since_realtime_ns) {
    return std::nullopt;
  }
  return taken;
}

class OutputStamps {
 public:
  // Creates the table in this network namespace. Throws SystemError (with the kernel's
  // reason and the message it refused) when nf_tables is missing or refuses it; nothing is
  // left behind then.
  explicit OutputStamps(const StampLayout& layout);
  OutputStamps(OutputStamps&&) noexcept = default;
  OutputStamps& operator=(OutputStamps&&) noexcept = default;

  const std::string& table() const { return layout_.table; }
  const StampLayout& layout() const { return layout_; }
  size_t rules() const { return rules_; }

 private:
  FileDescriptor socket_;  // owns the table: closing it deletes the table
  StampLayout layout_;
  size_t rules_ = 0;
};

}  // namespace badlink
