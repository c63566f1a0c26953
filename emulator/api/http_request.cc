// request_of: a Beast request as the routes' Request; see http_request.hh.
#include "api/http_request.hh"

namespace badlink::api {

Request request_of(boost::beast::http::request<boost::beast::http::string_body> message,
                   std::string peer) {
  namespace http = boost::beast::http;
  Request r;
  r.method = std::string(message.method_string());
  r.target = std::string(message.target());
  r.content_type = std::string(message[http::field::content_type]);
  r.accept = std::string(message[http::field::accept]);
  r.authorization = std::string(message[http::field::authorization]);
  r.body = std::move(message.body());
  r.peer = std::move(peer);
  return r;
}

}  // namespace badlink::api
