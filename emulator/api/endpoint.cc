// --api's endpoints; see endpoint.hh.
#include "api/endpoint.hh"

#include <arpa/inet.h>

#include <charconv>
#include <stdexcept>

namespace badlink::api {

namespace {

bool ipv4(const std::string& a) {
  in_addr out{};
  return ::inet_pton(AF_INET, a.c_str(), &out) == 1;
}

bool ipv6(const std::string& a) {
  in6_addr out{};
  return ::inet_pton(AF_INET6, a.c_str(), &out) == 1;
}

}  // namespace

bool Endpoint::local() const {
  if (kind == Kind::unix_socket) {
    return true;
  }
  if (ipv4(address)) {
    return address.starts_with("127.");
  }
  in6_addr a{};
  return ::inet_pton(AF_INET6, address.c_str(), &a) == 1 && IN6_IS_ADDR_LOOPBACK(&a);
}

std::string Endpoint::to_string() const {
  if (kind == Kind::unix_socket) {
    return "unix:" + path;
  }
  const bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

Endpoint parse_endpoint(std::string_view text) {
  Endpoint e;
  if (text.starts_with("unix:")) {
    e.path = std::string(text.substr(5));
    if (e.path.empty() || e.path.front() != '/') {
      throw std::invalid_argument("'" + std::string(text) + "': unix: needs an absolute path");
    }
    return e;
  }
  e.kind = Endpoint::Kind::tcp;
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw std::invalid_argument("'" + std::string(text) +
                                "': expected unix:PATH, ADDRESS:PORT or [ADDRESS]:PORT");
  }
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.starts_with('[') && host.ends_with(']')) {
    host = host.substr(1, host.size() - 2);
    e.address = std::string(host);
    if (!ipv6(e.address)) {
      throw std::invalid_argument("'" + std::string(text) + "': not an IPv6 address in [ ]");
    }
  } else {
    e.address = std::string(host);
    if (!ipv4(e.address)) {
      throw std::invalid_argument("'" + std::string(text) +
                                  "': not an IPv4 address (write IPv6 as [ADDRESS]:PORT)");
    }
  }
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), e.port);
  if (port.empty() || ec != std::errc{} || ptr != port.data() + port.size() || e.port == 0) {
    throw std::invalid_argument("'" + std::string(text) + "': the port must be 1 to 65535");
  }
  return e;
}

std::string default_socket_path(int pid) {
  return std::string(kSocketDirectory) + "/" + std::to_string(pid) + ".sock";
}

}  // namespace badlink::api
