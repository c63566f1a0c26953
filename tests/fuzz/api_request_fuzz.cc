// Fuzz target: bytes as an HTTP request to the control API. The first byte's low bit says
// whether the API has a token ("Bearer fuzz"); the rest is parsed by Boost.Beast's request
// parser with the server's limits, and a complete request goes through the routes over
// LoopControl and a fake loop (tests/unit/fake_loop.hh). Every response must have a status the
// API documents and, when it says JSON, a body that parses. BADLINK_FUZZ_VERBOSE=1 prints each
// request's method, target and status.
#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "../unit/fake_loop.hh"
#include "api/http_request.hh"
#include "api/loop_control.hh"
#include "api/routes.hh"
#include "fuzz_check.hh"

namespace {

using namespace badlink;

// Two links, one with a schedule, so that the timeline's routes can succeed too.
constexpr const char* kStart = R"([profile]
name = "fuzz"
[[link]]
name = "video"
match = { protocol = "udp", ports = [5000] }
outbound = { delay = "20ms" }
[[link.schedule]]
at = "2s"
outbound = { delay = "80ms" }
[[link]]
name = "rest"
outbound = { delay = "5ms" }
inbound = { loss = "1%" }
)";

struct Api {
  Api()
      : start(parse_profile(kStart, "fuzz.toml")),
        loop(start),
        control(loop.queue, start, std::chrono::milliseconds(10'000)) {}
  Profile start;
  testing::FakeLoop loop;
  api::LoopControl control;
};

// The request in `bytes`, parsed as the server parses one; nullopt when it is not complete
// and valid (the server answers 413 or closes the connection then, without routing).
std::optional<api::Request> parse(std::string_view bytes) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.body_limit(api::kMaxBody);
  parser.header_limit(16 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t at = 0;
  while (at < bytes.size() && !parser.is_done()) {
    const size_t used = parser.put(boost::asio::buffer(bytes.data() + at, bytes.size() - at), ec);
    if (ec == http::error::need_more) {
      ec = {};
      break;
    }
    if (ec || used == 0) {
      break;
    }
    at += used;
  }
  if (!ec && !parser.is_done()) {
    parser.put_eof(ec);
  }
  if (ec || !parser.is_done()) {
    return std::nullopt;
  }
  return api::request_of(parser.release(), "fuzz");
}

bool documented(int status) {
  for (const int s : {200, 201, 204, 400, 401, 404, 405, 409, 413, 415, 501}) {
    if (status == s) {
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Api* api = new Api;  // one loop thread for the whole run; never destroyed
  if (size == 0) {
    return 0;
  }
  const std::optional<badlink::api::Request> request =
      parse(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  if (!request) {
    return 0;
  }
  badlink::api::RouteOptions options;
  options.token = (data[0] & 1) != 0 ? "fuzz" : "";
  options.version = "fuzz";
  api->control.reset("fuzz");  // each input starts from the same profile
  const badlink::api::Response response = badlink::api::route(*request, api->control, options);
  static const bool verbose = std::getenv("BADLINK_FUZZ_VERBOSE") != nullptr;
  if (verbose) {
    std::fprintf(stderr, "%s %s -> %d\n", request->method.c_str(), request->target.c_str(),
                 response.status);
  }
  if (!documented(response.status)) {
    std::fprintf(stderr, "%s %s: status %d: %s\n", request->method.c_str(), request->target.c_str(),
                 response.status, response.body.c_str());
  }
  badlink::fuzz::check(documented(response.status), "every status is one the API documents");
  if (response.content_type == "application/json") {
    const bool parses = nlohmann::json::accept(response.body);
    if (!parses) {
      std::fprintf(stderr, "body: %s\n", response.body.c_str());
    }
    badlink::fuzz::check(parses, "a JSON response's body parses");
  }
  return 0;
}
