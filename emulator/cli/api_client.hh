// A small HTTP/1.1 client (Boost.Beast) for `badlink ctl`: one request to a running badlink's
// control API over its Unix socket or TCP, and how ctl finds that API.
#pragma once

#include <string>

#include "api/endpoint.hh"

namespace badlink::cli {

struct ApiReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

struct ApiRequest {
  std::string method = "GET";
  std::string target;
  std::string body;
  std::string content_type;  // of the body
  std::string accept;
};

// Throws std::runtime_error naming the endpoint when it cannot connect or read the reply.
ApiReply call_api(const api::Endpoint& endpoint, const ApiRequest& request,
                  const std::string& token);

// The local instance's socket: /run/badlink/badlink.sock, else the only /run/badlink/*.sock;
// throws a UsageError saying to give --api otherwise.
api::Endpoint find_local_api();

}  // namespace badlink::cli
