// An HTTP request and response as the control API's routes see them: plain values, no
// sockets, so that the routes are a function tested without a server.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace badlink::api {

struct Request {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // path and query, e.g. "/v1/links/video/outbound"
  std::string content_type;
  std::string accept;
  std::string authorization;
  std::string body;
  std::string peer;  // who asks, for the log: "uid 1000" or "192.0.2.1:4711"
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra, e.g. Allow
};

}  // namespace badlink::api
