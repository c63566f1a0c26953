// Capabilities: which the live mode needs, whether the process has them, and dropping every
// other one once set-up is done.
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace badlink {

enum class Capability { net_admin, net_raw };

std::string_view to_string(Capability c);  // "CAP_NET_ADMIN"

// The members of `needed` missing from the effective set, in the order given.
std::vector<Capability> missing_capabilities(std::span<const Capability> needed);

// Keeps `keep` (effective, permitted, inheritable and ambient, so that programs run later, such
// as iptables removing the rules at exit, still have them) and drops every other capability,
// from the bounding set too when the process may change it. Throws SystemError on failure.
void keep_only_capabilities(std::span<const Capability> keep);

}  // namespace badlink
