// The network `badlink verify` measures on: three network namespaces, client -- gateway --
// server, joined by veth pairs, with the gateway's interface towards the server as the WAN.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "probe/network_namespace.hh"

namespace badlink::probe {

// client c (198.51.100.2) -- gateway g -- server s (203.0.113.2), named blv-<pid>-c/g/s.
// Removed (the namespaces, and with them the veth pairs and any rule) when destroyed.
class Testbed {
 public:
  static constexpr const char* kPrefix = "blv-";
  static constexpr const char* kClientAddress = "198.51.100.2";
  static constexpr const char* kClientGateway = "198.51.100.1";
  static constexpr const char* kServerAddress = "203.0.113.2";
  static constexpr const char* kServerGateway = "203.0.113.1";

  // Removes the testbeds of verifies that were killed first. Throws when it cannot be built
  // (not root, `ip` missing); what was built by then is removed.
  explicit Testbed(int pid);
  ~Testbed();
  Testbed(const Testbed&) = delete;
  Testbed& operator=(const Testbed&) = delete;

  // Namespaces.
  std::string client() const { return id_ + "-c"; }
  std::string gateway() const { return id_ + "-g"; }
  std::string server() const { return id_ + "-s"; }
  // The gateway's interface towards the server.
  std::string wan() const { return id_ + "-gs"; }

 private:
  std::string id_;
  std::vector<std::unique_ptr<NetworkNamespace>> namespaces_;
};

}  // namespace badlink::probe
