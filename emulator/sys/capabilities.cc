// Capabilities through libcap.
#include "sys/capabilities.hh"

#include <spdlog/spdlog.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "sys/system_error.hh"

namespace badlink {

namespace {

cap_value_t value_of(Capability c) {
  switch (c) {
    case Capability::net_admin:
      return CAP_NET_ADMIN;
    case Capability::net_raw:
      return CAP_NET_RAW;
    case Capability::sys_nice:
      return CAP_SYS_NICE;
  }
  return CAP_NET_ADMIN;
}

struct CapFree {
  void operator()(cap_t caps) const { cap_free(caps); }
};
using CapHandle = std::unique_ptr<std::remove_pointer_t<cap_t>, CapFree>;

CapHandle current() {
  CapHandle caps(cap_get_proc());
  if (!caps) {
    throw SystemError("cap_get_proc", errno);
  }
  return caps;
}

// Whether `v` is in `flag`'s set of `caps`.
bool holds(cap_t caps, cap_value_t v, cap_flag_t flag) {
  cap_flag_value_t set = CAP_CLEAR;
  return cap_get_flag(caps, v, flag, &set) == 0 && set == CAP_SET;
}

// Sets or clears `c` in the calling thread's effective set.
void set_effective(Capability c, bool on) {
  const CapHandle caps = current();
  const cap_value_t v = value_of(c);
  SystemCall("cap_set_flag",
             cap_set_flag(caps.get(), CAP_EFFECTIVE, 1, &v, on ? CAP_SET : CAP_CLEAR));
  SystemCall(
      std::string("cap_set_proc(") + (on ? "raise " : "clear ") + std::string(to_string(c)) + ")",
      cap_set_proc(caps.get()));
}

}  // namespace

std::string_view to_string(Capability c) {
  switch (c) {
    case Capability::net_admin:
      return "CAP_NET_ADMIN";
    case Capability::net_raw:
      return "CAP_NET_RAW";
    case Capability::sys_nice:
      return "CAP_SYS_NICE";
  }
  return "?";
}

std::vector<Capability> missing_capabilities(std::span<const Capability> needed) {
  const CapHandle caps = current();
  std::vector<Capability> missing;
  for (const Capability c : needed) {
    if (!holds(caps.get(), value_of(c), CAP_EFFECTIVE)) {
      missing.push_back(c);
    }
  }
  return missing;
}

bool permitted(Capability c) {
  const CapHandle caps = current();
  return holds(caps.get(), value_of(c), CAP_PERMITTED);
}

void keep_only_capabilities(std::span<const Capability> keep,
                            std::span<const Capability> held_back) {
  std::vector<cap_value_t> values;
  for (const Capability c : keep) {
    values.push_back(value_of(c));
  }
  std::vector<cap_value_t> held;
  for (const Capability c : held_back) {
    held.push_back(value_of(c));
  }
  auto kept = [&](cap_value_t v) {
    for (const cap_value_t k : values) {
      if (k == v) {
        return true;
      }
    }
    for (const cap_value_t k : held) {
      if (k == v) {
        return true;
      }
    }
    return false;
  };

  // Bounding set first, while CAP_SETPCAP may still be effective. Without it (a non-root user
  // given only the capabilities badlink needs) there is nothing there to drop that matters.
  const bool may_drop_bound = CAP_IS_SUPPORTED(CAP_SETPCAP) && [] {
    const CapHandle caps = current();
    return holds(caps.get(), CAP_SETPCAP, CAP_EFFECTIVE);
  }();
  if (may_drop_bound) {
    for (cap_value_t v = 0; v <= CAP_LAST_CAP; ++v) {
      if (!kept(v) && cap_get_bound(v) == 1) {
        SystemCall("cap_drop_bound", cap_drop_bound(v));
      }
    }
  }

  CapHandle caps(cap_init());
  if (!caps) {
    throw SystemError("cap_init", errno);
  }
  for (const cap_flag_t flag : {CAP_EFFECTIVE, CAP_PERMITTED, CAP_INHERITABLE}) {
    if (values.empty()) {
      break;  // cap_init() holds none already (and cap_set_flag refuses an empty list)
    }
    SystemCall("cap_set_flag", cap_set_flag(caps.get(), flag, static_cast<int>(values.size()),
                                            values.data(), CAP_SET));
  }
  if (!held.empty()) {
    SystemCall("cap_set_flag", cap_set_flag(caps.get(), CAP_PERMITTED,
                                            static_cast<int>(held.size()), held.data(), CAP_SET));
  }
  SystemCall("cap_set_proc", cap_set_proc(caps.get()));

  // Ambient capabilities survive execve() of ordinary programs: a non-root badlink can still
  // run iptables to remove its rules at exit. Root does not need them (its bounding set does).
  // Best effort: a system that locks ambient capabilities (SECBIT_NO_CAP_AMBIENT_RAISE) still
  // runs badlink; only a non-root badlink's clean-up would then fail, and it logs that.
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (const cap_value_t v : values) {
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, static_cast<unsigned long>(v), 0, 0) != 0) {
      spdlog::debug("prctl(PR_CAP_AMBIENT_RAISE, {}): {}", static_cast<int>(v),
                    std::strerror(errno));
    }
  }
}

ScopedCapability::ScopedCapability(Capability c) : capability_(c) { set_effective(c, true); }

ScopedCapability::~ScopedCapability() {
  try {
    set_effective(capability_, false);
  } catch (const SystemError& e) {
    spdlog::error("{} stays effective: {}", to_string(capability_), e.what());
  }
}

}  // namespace badlink
