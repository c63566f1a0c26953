// The control API's server over a Unix socket and TCP loopback: requests answered through
// the handler, keep-alive, 413 from the header alone, a client that stalls half-way closed
// after the idle timeout while others are served, and the socket file's lifetime.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "api/http_server.hh"
#include "cli/api_client.hh"

namespace badlink::api {
namespace {

using std::chrono::milliseconds;

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest() {
    dir_ =
        std::filesystem::temp_directory_path() / ("badlink-api-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  ~HttpServerTest() override { std::filesystem::remove_all(dir_); }

  static Response echo(const Request& r) {
    Response out;
    out.content_type = "text/plain";
    out.body = r.method + " " + r.target + " " + r.content_type + " " +
               std::to_string(r.body.size()) + " " + r.peer;
    return out;
  }

  HttpServer::Options options() const {
    HttpServer::Options o;
    o.idle_timeout = milliseconds(300);
    o.shared_link = (dir_ / "shared.sock").string();
    return o;
  }

  Endpoint unix_endpoint() const { return parse_endpoint("unix:" + (dir_ / "1.sock").string()); }

  std::filesystem::path dir_;
};

// A raw connection to a Unix socket, for what a well-behaved client would never send.
int connect_unix(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  path.copy(a.sun_path, sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A Unix socket file no one listens on, as a killed instance leaves it.
void stale_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  path.copy(a.sun_path, sizeof a.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ::close(fd);
}

TEST_F(HttpServerTest, AnswersOverAUnixSocketWithModeAndSharedLink) {
  HttpServer server(unix_endpoint(), echo, options());
  server.start();
  struct stat st {};
  ASSERT_EQ(::stat(unix_endpoint().path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660U);
  EXPECT_EQ(std::filesystem::read_symlink(dir_ / "shared.sock"), "1.sock");

  const cli::ApiReply r =
      cli::call_api(unix_endpoint(), {"PATCH", "/v1/x", "{}", "application/json", ""}, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.substr(0, 30), "PATCH /v1/x application/json 2");
  EXPECT_NE(r.body.find("uid " + std::to_string(::getuid())), std::string::npos) << r.body;

  server.stop();
  EXPECT_FALSE(std::filesystem::exists(unix_endpoint().path));
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(dir_ / "shared.sock")));
}

TEST_F(HttpServerTest, ASecondInstanceOnTheSamePathIsRefused) {
  HttpServer server(unix_endpoint(), echo, options());
  server.start();
  EXPECT_THROW(HttpServer(unix_endpoint(), echo, options()), std::runtime_error);
  // A stale file (no one listens) is taken over.
  server.stop();
  stale_socket(unix_endpoint().path);
  HttpServer again(unix_endpoint(), echo, options());
  again.start();
  EXPECT_EQ(cli::call_api(unix_endpoint(), {"GET", "/", "", "", ""}, "").status, 200);
}

TEST_F(HttpServerTest, TheSharedLinkOfAKilledInstanceIsTakenOverALiveOnesIsNot) {
  stale_socket((dir_ / "9.sock").string());
  std::filesystem::create_symlink("9.sock", dir_ / "shared.sock");
  {
    HttpServer server(unix_endpoint(), echo, options());
    EXPECT_EQ(std::filesystem::read_symlink(dir_ / "shared.sock"), "1.sock");
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(dir_ / "9.sock")));
    server.start();
    // A second instance while the first lives: the shared name stays the first's.
    HttpServer second(parse_endpoint("unix:" + (dir_ / "2.sock").string()), echo, options());
    EXPECT_EQ(std::filesystem::read_symlink(dir_ / "shared.sock"), "1.sock");
    second.stop();
    EXPECT_EQ(std::filesystem::read_symlink(dir_ / "shared.sock"), "1.sock");
  }
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(dir_ / "shared.sock")));
}

TEST_F(HttpServerTest, TcpLoopbackWithAnEphemeralPort) {
  // --api takes no port 0: a free one is found through the kernel first.
  Endpoint e = parse_endpoint("127.0.0.1:1");
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    e.port = ntohs(a.sin_port);
    ::close(fd);
  }
  HttpServer tcp(e, echo, options());
  tcp.start();
  const cli::ApiReply r = cli::call_api(e, {"GET", "/metrics", "", "", ""}, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("127.0.0.1:"), std::string::npos) << r.body;
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413FromItsHeader) {
  HttpServer server(unix_endpoint(), echo, options());
  server.start();
  const int fd = connect_unix(unix_endpoint().path);
  ASSERT_GE(fd, 0);
  const std::string head =
      "PUT /v1/profile HTTP/1.1\r\nHost: x\r\nContent-Type: application/toml\r\n"
      "Content-Length: 2097152\r\nExpect: 100-continue\r\n\r\n";
  ASSERT_EQ(::write(fd, head.data(), head.size()), static_cast<ssize_t>(head.size()));
  char buf[512] = {};
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 413");
}

TEST_F(HttpServerTest, AStalledClientIsClosedAndOthersAreServed) {
  HttpServer server(unix_endpoint(), echo, options());
  server.start();
  const int stalled = connect_unix(unix_endpoint().path);
  ASSERT_GE(stalled, 0);
  const std::string half = "PUT /v1/profile HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc";
  ASSERT_EQ(::write(stalled, half.data(), half.size()), static_cast<ssize_t>(half.size()));
  // Served while that one stalls.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(cli::call_api(unix_endpoint(), {"GET", "/healthz", "", "", ""}, "").status, 200);
  }
  // Closed after the idle timeout (300 ms): read() sees the end.
  const auto start = std::chrono::steady_clock::now();
  char buf[64];
  const ssize_t n = ::read(stalled, buf, sizeof buf);
  const auto waited = std::chrono::steady_clock::now() - start;
  ::close(stalled);
  EXPECT_LE(n, 0);
  EXPECT_LT(waited, std::chrono::seconds(5));
}

TEST_F(HttpServerTest, MalformedRequestIs400) {
  HttpServer server(unix_endpoint(), echo, options());
  server.start();
  const int fd = connect_unix(unix_endpoint().path);
  ASSERT_GE(fd, 0);
  const std::string junk = "THIS IS NOT HTTP\r\n\r\n";
  ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  char buf[256] = {};
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 400");
}

TEST_F(HttpServerTest, ManyClientsAtOnce) {
  HttpServer server(unix_endpoint(), echo, options());
  server.start();
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&]() {
      for (int i = 0; i < 50; ++i) {
        if (cli::call_api(unix_endpoint(), {"GET", "/x", "", "", ""}, "").status == 200) {
          ++ok;
        }
      }
    });
  }
  for (std::thread& t : clients) {
    t.join();
  }
  EXPECT_EQ(ok, 400);
}

}  // namespace
}  // namespace badlink::api
