// Testbed over `ip` (namespaces, veth pairs, addresses, routes) and the gateway's sysctl.
#include "probe/testbed.hh"

#include <spdlog/spdlog.h>

namespace badlink::probe {

namespace {

void link(const std::string& a, const std::string& a_if, const std::string& b,
          const std::string& b_if) {
  ip({"link", "add", a_if, "netns", a, "type", "veth", "peer", "name", b_if, "netns", b});
  ip({"-n", a, "link", "set", a_if, "up"});
  ip({"-n", b, "link", "set", b_if, "up"});
}

void address(const std::string& ns, const std::string& dev, const std::string& cidr) {
  ip({"-n", ns, "addr", "add", cidr, "dev", dev});
}

}  // namespace

Testbed::Testbed(int pid) : id_(kPrefix + std::to_string(pid)) {
  for (const std::string& stale : stale_namespaces(kPrefix)) {
    spdlog::info("removing {} left by a verify that was killed", stale);
    remove_namespace(stale);
  }
  for (const char* role : {"c", "g", "s"}) {
    namespaces_.push_back(std::make_unique<NetworkNamespace>(id_ + "-" + role));
  }
  link(client(), id_ + "-c0", gateway(), id_ + "-gc");
  link(gateway(), wan(), server(), id_ + "-s0");
  address(client(), id_ + "-c0", std::string(kClientAddress) + "/24");
  address(gateway(), id_ + "-gc", std::string(kClientGateway) + "/24");
  address(gateway(), wan(), std::string(kServerGateway) + "/24");
  address(server(), id_ + "-s0", std::string(kServerAddress) + "/24");
  ip({"-n", client(), "route", "add", "default", "via", kClientGateway});
  ip({"-n", server(), "route", "add", "default", "via", kServerGateway});
  set_sysctl(gateway(), "net.ipv4.ip_forward", "1");
}

Testbed::~Testbed() {
  // The namespaces go in reverse order; each takes its interfaces with it.
  while (!namespaces_.empty()) {
    namespaces_.pop_back();
  }
}

}  // namespace badlink::probe
