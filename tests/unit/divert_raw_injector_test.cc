// RawInjector on loopback (needs CAP_NET_RAW, skipped without): packets arrive as sent, and
// its sampled transmit stamps give a send path.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "divert/linux/raw_injector.hh"
#include "sys/file_descriptor.hh"
#include "sys/system_error.hh"

namespace badlink {
namespace {

// An IPv4/UDP packet 127.0.0.1 -> 127.0.0.1:port with `payload` bytes (UDP checksum 0: none).
std::vector<std::byte> loopback_udp(uint16_t port, size_t payload) {
  std::vector<std::byte> p(20 + 8 + payload, std::byte{0x5a});
  const auto put16 = [&](size_t at, uint16_t v) {
    p[at] = std::byte(v >> 8);
    p[at + 1] = std::byte(v & 0xff);
  };
  p[0] = std::byte{0x45};
  p[1] = std::byte{0};
  put16(2, static_cast<uint16_t>(p.size()));
  put16(4, 1);
  put16(6, 0);
  p[8] = std::byte{64};
  p[9] = std::byte{IPPROTO_UDP};
  put16(10, 0);
  const uint32_t lo = htonl(INADDR_LOOPBACK);
  std::memcpy(p.data() + 12, &lo, 4);
  std::memcpy(p.data() + 16, &lo, 4);
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) {
    sum += (std::to_integer<uint32_t>(p[i]) << 8) | std::to_integer<uint32_t>(p[i + 1]);
  }
  while (sum > 0xffff) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  put16(10, static_cast<uint16_t>(~sum));
  put16(20, 40000);
  put16(22, port);
  put16(24, static_cast<uint16_t>(8 + payload));
  put16(26, 0);
  return p;
}

TEST(RawInjector, SendsOnLoopbackAndMeasuresItsSendPath) {
  std::unique_ptr<RawInjector> injector;
  try {
    injector = std::make_unique<RawInjector>(0x62616400);
  } catch (const SystemError& e) {
    if (e.error() == EPERM) {
      GTEST_SKIP() << "no CAP_NET_RAW: " << e.what();
    }
    throw;
  }
  FileDescriptor receiver(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ASSERT_TRUE(receiver.valid());
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(receiver.fd(), reinterpret_cast<const sockaddr*>(&at), sizeof at), 0);
  socklen_t len = sizeof at;
  ASSERT_EQ(::getsockname(receiver.fd(), reinterpret_cast<sockaddr*>(&at), &len), 0);
  const std::vector<std::byte> packet = loopback_udp(ntohs(at.sin_port), 32);

  EXPECT_FALSE(injector->send_path().has_value());
  constexpr uint64_t kSends = RawInjector::kSampleEvery * 40;
  uint64_t received = 0;
  char buffer[256];
  for (uint64_t i = 0; i < kSends; ++i) {
    ASSERT_EQ(injector->send(packet, 0), 0) << "send " << i;
    while (::recv(receiver.fd(), buffer, sizeof buffer, 0) == 32) {
      ++received;
    }
  }
  for (int i = 0; i < 1000 && received < kSends; ++i) {  // should the stack deliver later
    ::usleep(1000);
    while (::recv(receiver.fd(), buffer, sizeof buffer, 0) == 32) {
      ++received;
    }
  }
  EXPECT_EQ(received, kSends);
  // loopback stamps what it transmits: one sample per kSampleEvery sends.
  EXPECT_EQ(injector->send_path_samples().count(), kSends / RawInjector::kSampleEvery);
  ASSERT_TRUE(injector->send_path().has_value());
  EXPECT_GT(injector->send_path()->count(), 0);
  EXPECT_LT(*injector->send_path(), std::chrono::milliseconds(5));
  EXPECT_LE(injector->send_path_samples().percentile(0.0), *injector->send_path());
  EXPECT_GE(injector->send_path_samples().max(), *injector->send_path());
}

}  // namespace
}  // namespace badlink
