// Capabilities: which the live mode needs, whether the process has them, and dropping every
// other one once set-up is done.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace badlink {

enum class Capability { net_admin, net_raw, sys_nice };

std::string_view to_string(Capability c);  // "CAP_NET_ADMIN"

// The members of `needed` missing from the effective set, in the order given.
std::vector<Capability> missing_capabilities(std::span<const Capability> needed);

// Whether the calling thread holds `c` in its permitted set (it may make it effective).
bool permitted(Capability c);

// Keeps `keep` (effective, permitted, inheritable and ambient, so that programs run later, such
// as iptables removing the rules at exit, still have them) and `held_back` in the permitted set
// only (not effective until a ScopedCapability raises it; never passed to programs), and drops
// every other capability, from the bounding set too when the process may change it. Throws
// SystemError on failure. Capabilities are per thread: threads created later inherit the
// caller's.
void keep_only_capabilities(std::span<const Capability> keep,
                            std::span<const Capability> held_back = {});

// Makes a permitted capability effective in the calling thread while it lives (what
// keep_only_capabilities held back), and clears it again on destruction.
class ScopedCapability {
 public:
  explicit ScopedCapability(Capability c);  // throws SystemError
  ~ScopedCapability();
  ScopedCapability(const ScopedCapability&) = delete;
  ScopedCapability& operator=(const ScopedCapability&) = delete;

 private:
  Capability capability_;
};

}  // namespace badlink
