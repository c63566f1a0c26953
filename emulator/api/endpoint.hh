// Where the control API listens, as --api writes it: "unix:PATH", "127.0.0.1:PORT",
// "[::1]:PORT" or any other "ADDRESS:PORT" (which needs a token).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace badlink::api {

struct Endpoint {
  enum class Kind { unix_socket, tcp };
  Kind kind = Kind::unix_socket;
  std::string path;     // unix
  std::string address;  // tcp: an IPv4 or IPv6 address, without brackets
  uint16_t port = 0;

  // Whether only this host can reach it: a Unix socket, or 127.0.0.0/8 or ::1.
  bool local() const;
  std::string to_string() const;  // as --api takes it
};

// Throws std::invalid_argument saying what is wrong.
Endpoint parse_endpoint(std::string_view text);

// The default Unix socket of the instance with process id `pid`, and the name every instance
// links to while it is the only one.
std::string default_socket_path(int pid);
inline constexpr std::string_view kSocketDirectory = "/run/badlink";
inline constexpr std::string_view kSharedSocketPath = "/run/badlink/badlink.sock";

}  // namespace badlink::api
