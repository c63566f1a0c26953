// The control API's routes: a pure function from a request and a Control to a response, so
// that every status and error body is tested without a socket.
#pragma once

#include <cstddef>
#include <string>

#include "api/control.hh"
#include "api/http_message.hh"

namespace badlink::api {

inline constexpr size_t kMaxBody = size_t{1} << 20;  // 1 MiB

struct RouteOptions {
  std::string token;    // non-empty: every route but /healthz needs "Authorization: Bearer T"
  std::string version;  // for badlink_build_info
};

Response route(const Request& request, Control& control, const RouteOptions& options);

// {"error": message} (with "line" and "column" when given), the body of every error.
Response error_response(int status, const std::string& message, uint32_t line = 0,
                        uint32_t column = 0);

}  // namespace badlink::api
