// The control API's HTTP/1.1 server (Boost.Beast) on a Unix socket or TCP: one thread reads
// and writes every connection, a few workers run the handler (which may wait for the packet
// loop), so that a slow change or a stalled client never holds up the others.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "api/endpoint.hh"
#include "api/http_message.hh"

namespace badlink::api {

class HttpServer {
 public:
  using Handler = std::function<Response(const Request&)>;

  struct Options {
    // A connection that sends nothing for this long, or stops half-way through a request, is
    // closed.
    std::chrono::milliseconds idle_timeout{10000};
    size_t workers = 2;
    // Unix socket: its mode, and a second name linked to it while no other instance holds
    // that name ("" for none).
    unsigned mode = 0660;
    std::string shared_link;
    // Run first on each of the server's threads (e.g. to give back the packet loop's
    // priority, which threads inherit).
    std::function<void()> thread_start;
  };

  // Binds and listens (throws std::runtime_error naming the endpoint: in use, no permission).
  // Requests are served once start() is called.
  HttpServer(const Endpoint& endpoint, Handler handler, Options options);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start();
  // Closes the listener and every connection, waits for the threads; removes the socket file.
  void stop() noexcept;
  // Where it listens (a TCP port 0 is resolved).
  std::string where() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace badlink::api
