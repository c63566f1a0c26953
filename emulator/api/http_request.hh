// A request Boost.Beast has parsed, as the routes take it: what the server hands them, and
// what the api_request fuzz target feeds them.
#pragma once

// Boost.Asio 1.74's awaitable.hpp uses std::exchange without including <utility>.
// clang-format off
#include <utility>
#include <boost/beast/http.hpp>
// clang-format on
#include <string>

#include "api/http_message.hh"

namespace badlink::api {

// The method, target, the headers the routes read and the body; `peer` says who asks.
Request request_of(boost::beast::http::request<boost::beast::http::string_body> message,
                   std::string peer);

}  // namespace badlink::api
