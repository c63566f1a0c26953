// The control API's HTTP server over Boost.Beast; see http_server.hh.
#include "api/http_server.hh"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

// Boost.Asio 1.74's awaitable.hpp uses std::exchange without including <utility>.
// clang-format off
#include <utility>
#include <boost/asio.hpp>
// clang-format on
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <optional>
#include <thread>
#include <vector>

#include "api/http_request.hh"
#include "api/routes.hh"

namespace badlink::api {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using beast::error_code;
using local = asio::local::stream_protocol;
using tcp = asio::ip::tcp;

struct Shared {
  HttpServer::Handler handler;
  HttpServer::Options options;
  asio::io_context* workers = nullptr;  // where handlers run
};

std::string peer_of(local::socket& s) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(s.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return "a local peer";
  }
  return "uid " + std::to_string(cred.uid) + " (pid " + std::to_string(cred.pid) + ")";
}

std::string peer_of(tcp::socket& s) {
  error_code ec;
  const tcp::endpoint e = s.remote_endpoint(ec);
  if (ec) {
    return "a TCP peer";
  }
  return e.address().is_v6() ? "[" + e.address().to_string() + "]:" + std::to_string(e.port())
                             : e.address().to_string() + ":" + std::to_string(e.port());
}

template <class Protocol>
class Session : public std::enable_shared_from_this<Session<Protocol>> {
 public:
  using Stream = beast::basic_stream<Protocol>;

  Session(typename Protocol::socket socket, const Shared& shared)
      : peer_(peer_of(socket)), stream_(std::move(socket)), shared_(shared) {}

  void start() { read_header(); }

 private:
  void read_header() {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(shared_.options.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->on_header(ec); });
  }

  void on_header(error_code ec) {
    if (ec == http::error::body_limit) {  // its Content-Length says so already
      respond(error_response(413, "a body may have at most 1 MiB"), false);
      return;
    }
    if (ec) {
      closed(ec);
      return;
    }
    const auto& req = parser_->get();
    const auto length = parser_->content_length();
    if (length && *length > kMaxBody) {
      respond(error_response(413, "a body may have at most 1 MiB"), false);
      return;
    }
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                      req.version());
      http::async_write(stream_, *go_on,
                        [self = this->shared_from_this(), go_on](error_code e, size_t) {
                          if (e) {
                            self->closed(e);
                          } else {
                            self->read_body();
                          }
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(shared_.options.idle_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->on_request(ec); });
  }

  void on_request(error_code ec) {
    if (ec == http::error::body_limit) {
      respond(error_response(413, "a body may have at most 1 MiB"), false);
      return;
    }
    if (ec) {
      closed(ec);
      return;
    }
    http::request<http::string_body> req = parser_->release();
    const bool keep_alive = req.keep_alive();
    version_ = req.version();
    Request r = request_of(std::move(req), peer_);
    stream_.expires_never();  // the handler may wait for the loop; the write has its own
    asio::post(*shared_.workers, [self = this->shared_from_this(), r = std::move(r), keep_alive]() {
      Response response = self->shared_.handler(r);
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response), keep_alive]() mutable {
                   self->respond(std::move(response), keep_alive);
                 });
    });
  }

  void respond(Response r, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "badlink");
    res->set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) {
      res->set(name, value);
    }
    res->body() = std::move(r.body);
    res->keep_alive(keep_alive);
    res->prepare_payload();
    stream_.expires_after(shared_.options.idle_timeout);
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res, keep_alive](error_code ec, size_t) {
                        if (ec || !keep_alive) {
                          error_code ignored;
                          self->stream_.socket().shutdown(Protocol::socket::shutdown_send, ignored);
                          return;
                        }
                        self->read_header();
                      });
  }

  void closed(error_code ec) {
    if (ec == beast::error::timeout) {
      spdlog::debug("control API: {} sent no complete request in time; closed", peer_);
    } else if (ec != http::error::end_of_stream && ec != asio::error::eof &&
               ec != asio::error::operation_aborted && ec != asio::error::connection_reset) {
      if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
        respond(error_response(400, "malformed HTTP request: " + ec.message()), false);
        return;
      }
    }
    error_code ignored;
    stream_.socket().shutdown(Protocol::socket::shutdown_both, ignored);
  }

  std::string peer_;
  Stream stream_;
  const Shared& shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  unsigned version_ = 11;
};

// Accepts connections until closed; each gets a Session.
template <class Protocol>
class Listener : public std::enable_shared_from_this<Listener<Protocol>> {
 public:
  Listener(asio::io_context& io, typename Protocol::acceptor acceptor, const Shared& shared)
      : io_(io), acceptor_(std::move(acceptor)), shared_(shared) {}

  void accept() {
    acceptor_.async_accept(
        asio::make_strand(io_),
        [self = this->shared_from_this()](error_code ec, typename Protocol::socket socket) {
          if (ec == asio::error::operation_aborted) {
            return;
          }
          if (!ec) {
            std::make_shared<Session<Protocol>>(std::move(socket), self->shared_)->start();
          } else {
            spdlog::warn("control API: accept: {}", ec.message());
          }
          self->accept();
        });
  }

  void close() {
    error_code ignored;
    acceptor_.close(ignored);
  }

  typename Protocol::acceptor& acceptor() { return acceptor_; }

 private:
  asio::io_context& io_;
  typename Protocol::acceptor acceptor_;
  const Shared& shared_;
};

// Whether a process accepts connections on the Unix socket at `path` (through a link too).
bool listened_on(const std::string& path) {
  asio::io_context io;
  local::socket probe(io);
  error_code ec;
  probe.connect(local::endpoint(path), ec);
  return !ec;
}

// A Unix socket's file: a stale one (no instance answers) is replaced, a live one refused.
void clear_socket_path(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
    return;
  }
  if (listened_on(path)) {
    throw std::runtime_error("--api unix:" + path + ": another badlink listens there");
  }
  std::filesystem::remove(path, ec);
}

// The shared name, unless a live instance holds it: a link left by one that is gone (killed:
// its socket file may still be there, unanswered) is taken over, with that file.
bool take_shared_link(const std::filesystem::path& link, const std::filesystem::path& target) {
  std::error_code ec;
  if (std::filesystem::is_symlink(std::filesystem::symlink_status(link, ec))) {
    if (listened_on(link.string())) {
      return false;
    }
    const std::filesystem::path stale = std::filesystem::read_symlink(link, ec);
    if (!ec && stale.parent_path().empty() && stale.extension() == ".sock" &&
        std::filesystem::is_socket(
            std::filesystem::symlink_status(link.parent_path() / stale, ec))) {
      std::filesystem::remove(link.parent_path() / stale, ec);
    }
    std::filesystem::remove(link, ec);
  }
  std::filesystem::create_symlink(target.filename(), link, ec);
  return !ec;
}

}  // namespace

struct HttpServer::Impl {
  Endpoint endpoint;
  Shared shared;
  asio::io_context io{1};
  asio::io_context workers;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> keep_working;
  std::shared_ptr<Listener<local>> unix_listener;
  std::shared_ptr<Listener<tcp>> tcp_listener;
  std::thread thread;
  std::vector<std::thread> worker_threads;
  bool linked = false;
  bool stopped = false;

  void run(asio::io_context& context) const {
    if (shared.options.thread_start) {
      shared.options.thread_start();
    }
    context.run();
  }
};

HttpServer::HttpServer(const Endpoint& endpoint, Handler handler, Options options)
    : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = endpoint;
  impl_->shared = Shared{std::move(handler), std::move(options), &impl_->workers};
  const std::string where = "--api " + endpoint.to_string();
  try {
    if (endpoint.kind == Endpoint::Kind::unix_socket) {
      const std::filesystem::path path(endpoint.path);
      std::filesystem::create_directories(path.parent_path());
      clear_socket_path(endpoint.path);
      local::acceptor acceptor(impl_->io);
      acceptor.open();
      acceptor.bind(local::endpoint(endpoint.path));
      if (::chmod(endpoint.path.c_str(), impl_->shared.options.mode) != 0) {
        throw std::system_error(errno, std::generic_category(), "chmod");
      }
      acceptor.listen();
      impl_->unix_listener =
          std::make_shared<Listener<local>>(impl_->io, std::move(acceptor), impl_->shared);
      const std::string& link = impl_->shared.options.shared_link;
      if (!link.empty()) {
        impl_->linked = take_shared_link(link, path);
      }
    } else {
      const tcp::endpoint at(asio::ip::make_address(endpoint.address), endpoint.port);
      tcp::acceptor acceptor(impl_->io);
      acceptor.open(at.protocol());
      acceptor.set_option(asio::socket_base::reuse_address(true));
      acceptor.bind(at);
      acceptor.listen();
      impl_->tcp_listener =
          std::make_shared<Listener<tcp>>(impl_->io, std::move(acceptor), impl_->shared);
    }
  } catch (const std::filesystem::filesystem_error& e) {
    throw std::runtime_error(where + ": " + e.what());
  } catch (const std::system_error& e) {
    throw std::runtime_error(where + ": " + e.what());
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(where + ": " + e.what());
  }
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  if (impl_->unix_listener) {
    impl_->unix_listener->accept();
  }
  if (impl_->tcp_listener) {
    impl_->tcp_listener->accept();
  }
  impl_->keep_working.emplace(impl_->workers.get_executor());
  impl_->thread = std::thread([this]() { impl_->run(impl_->io); });
  for (size_t i = 0; i < std::max<size_t>(1, impl_->shared.options.workers); ++i) {
    impl_->worker_threads.emplace_back([this]() { impl_->run(impl_->workers); });
  }
}

void HttpServer::stop() noexcept {
  if (impl_->stopped) {
    return;
  }
  impl_->stopped = true;
  asio::post(impl_->io, [this]() {
    if (impl_->unix_listener) {
      impl_->unix_listener->close();
    }
    if (impl_->tcp_listener) {
      impl_->tcp_listener->close();
    }
  });
  impl_->io.stop();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
  impl_->keep_working.reset();
  impl_->workers.stop();  // a handler running now finishes first (ControlClosed ends its wait)
  for (std::thread& t : impl_->worker_threads) {
    t.join();
  }
  if (impl_->endpoint.kind == Endpoint::Kind::unix_socket) {
    std::error_code ec;
    const std::string& link = impl_->shared.options.shared_link;
    if (impl_->linked && std::filesystem::read_symlink(link, ec) ==
                             std::filesystem::path(impl_->endpoint.path).filename()) {
      std::filesystem::remove(link, ec);
    }
    std::filesystem::remove(impl_->endpoint.path, ec);
  }
}

std::string HttpServer::where() const {
  if (impl_->tcp_listener) {
    error_code ec;
    const tcp::endpoint e = impl_->tcp_listener->acceptor().local_endpoint(ec);
    Endpoint out = impl_->endpoint;
    out.port = e.port();
    return out.to_string();
  }
  return impl_->endpoint.to_string();
}

}  // namespace badlink::api
