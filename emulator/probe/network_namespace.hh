// Named network namespaces (/run/netns/NAME, as `ip netns` makes them) as RAII objects, and
// working inside one without moving the process: a helper thread setns()'s into it, and what it
// creates there (a socket) stays in that namespace whichever thread uses it later.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "sys/file_descriptor.hh"

namespace badlink::probe {

class NetworkNamespace {
 public:
  // `ip netns add NAME` with loopback up. Throws when it cannot.
  explicit NetworkNamespace(std::string name);
  // `ip netns del NAME` after killing whatever still runs in it; logs, never throws.
  ~NetworkNamespace();
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// Kills what runs in namespace `name` and removes it; logs, never throws.
void remove_namespace(const std::string& name) noexcept;

// Runs `ip ARGS...`; throws std::runtime_error with its output when it fails.
void ip(const std::vector<std::string>& args);

// Runs `work` on a thread that has joined namespace `name` (/run/netns/NAME), and waits for it.
// An exception thrown by `work` is rethrown here.
void run_in_namespace(const std::string& name, const std::function<void()>& work);

// A socket(domain, type, 0) that lives in namespace `name` (empty: this thread's).
FileDescriptor socket_in_namespace(const std::string& name, int domain, int type);

// Writes `value` to /proc/sys/KEY (dots become slashes) inside namespace `name`.
void set_sysctl(const std::string& name, const std::string& key, const std::string& value);

// Namespaces called PREFIX<pid>-... whose pid no longer runs (or is this process's, which has
// made none yet when it asks): left by a killed process.
std::vector<std::string> stale_namespaces(const std::string& prefix);

}  // namespace badlink::probe
