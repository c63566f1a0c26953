// badlink ctl's HTTP client; see api_client.hh.
#include "cli/api_client.hh"

// Boost.Asio 1.74's awaitable.hpp uses std::exchange without including <utility>.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <vector>

#include "cli/command.hh"

namespace badlink::cli {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr auto kTimeout = std::chrono::seconds(60);

template <class Stream>
ApiReply exchange(Stream& stream, const ApiRequest& request, const std::string& token) {
  http::request<http::string_body> req(http::string_to_verb(request.method), request.target, 11);
  req.set(http::field::host, "badlink");
  req.set(http::field::user_agent, "badlink-ctl");
  if (!request.content_type.empty()) {
    req.set(http::field::content_type, request.content_type);
  }
  if (!request.accept.empty()) {
    req.set(http::field::accept, request.accept);
  }
  if (!token.empty()) {
    req.set(http::field::authorization, "Bearer " + token);
  }
  req.body() = request.body;
  req.keep_alive(false);
  req.prepare_payload();
  stream.expires_after(kTimeout);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  http::read(stream, buffer, parser);
  const auto& res = parser.get();
  return ApiReply{static_cast<int>(res.result_int()), std::string(res[http::field::content_type]),
                  res.body()};
}

// Whether an instance answers on the Unix socket at `path` (a killed one leaves its file).
bool answers(const std::string& path) {
  asio::io_context io;
  asio::local::stream_protocol::socket s(io);
  boost::system::error_code ec;
  s.connect(asio::local::stream_protocol::endpoint(path), ec);
  return !ec;
}

}  // namespace

ApiReply call_api(const api::Endpoint& endpoint, const ApiRequest& request,
                  const std::string& token) {
  asio::io_context io;
  try {
    if (endpoint.kind == api::Endpoint::Kind::unix_socket) {
      beast::basic_stream<asio::local::stream_protocol> stream(io);
      stream.expires_after(kTimeout);
      stream.connect(asio::local::stream_protocol::endpoint(endpoint.path));
      return exchange(stream, request, token);
    }
    beast::tcp_stream stream(io);
    stream.expires_after(kTimeout);
    stream.connect(
        asio::ip::tcp::endpoint(asio::ip::make_address(endpoint.address), endpoint.port));
    return exchange(stream, request, token);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("badlink's API at " + endpoint.to_string() + ": " + e.what());
  }
}

api::Endpoint find_local_api() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(api::kSharedSocketPath, ec) && answers(std::string(api::kSharedSocketPath))) {
    return api::parse_endpoint("unix:" + std::string(api::kSharedSocketPath));
  }
  std::vector<fs::path> sockets;
  for (const fs::directory_entry& e : fs::directory_iterator(api::kSocketDirectory, ec)) {
    if (e.path().extension() == ".sock" && fs::is_socket(e.symlink_status(ec)) &&
        answers(e.path().string())) {
      sockets.push_back(e.path());
    }
  }
  if (sockets.size() == 1) {
    return api::parse_endpoint("unix:" + sockets.front().string());
  }
  throw UsageError(sockets.empty()
                       ? "no badlink run with its API found in " +
                             std::string(api::kSocketDirectory) + "; give --api ENDPOINT"
                       : std::to_string(sockets.size()) + " instances in " +
                             std::string(api::kSocketDirectory) +
                             "; say which with --api unix:PATH");
}

}  // namespace badlink::cli
