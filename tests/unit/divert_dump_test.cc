// --dump lines: one per packet with direction, interface, addresses, protocol and length.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/packet_pool.hh"
#include "divert/packet_dump.hh"
#include "test_packets.hh"

namespace badlink {
namespace {

class DivertDump : public ::testing::Test {
 protected:
  Packet* packet(const std::vector<std::byte>& bytes, Direction d, const char* ifname,
                 uint32_t ifindex = 3) {
    Packet* p = pool_.allocate(bytes.size());
    std::memcpy(p->data(), bytes.data(), bytes.size());
    p->length = p->wire_length = static_cast<uint32_t>(bytes.size());
    p->address.direction = d;
    p->address.ifindex = ifindex;
    std::strncpy(p->address.ifname.data(), ifname, p->address.ifname.size() - 1);
    held_.push_back(p);
    return p;
  }
  void TearDown() override {
    for (Packet* p : held_) {
      pool_.release(p);
    }
  }

  PacketPool pool_;
  std::vector<Packet*> held_;
};

TEST_F(DivertDump, Ipv4Udp) {
  const auto bytes = testing::make_ip_packet(4, 17, 100, 40000, 5201);
  EXPECT_EQ(dump_line(*packet(bytes, Direction::outbound, "veth0")),
            "outbound veth0 192.0.2.1:40000 > 198.51.100.2:5201 udp len 128");
}

TEST_F(DivertDump, Ipv6TcpInbound) {
  const auto bytes = testing::make_ip_packet(6, 6, 0, 443, 50000);
  EXPECT_EQ(dump_line(*packet(bytes, Direction::inbound, "eth0")),
            "inbound eth0 [2001:db8::1]:443 > [2001:db8::2]:50000 tcp len 60");
}

TEST_F(DivertDump, IcmpHasNoPorts) {
  EXPECT_EQ(dump_line(*packet(testing::make_ip_packet(4, 1, 56), Direction::inbound, "eth0")),
            "inbound eth0 192.0.2.1 > 198.51.100.2 icmp len 84");
  EXPECT_EQ(dump_line(*packet(testing::make_ip_packet(6, 58, 56), Direction::outbound, "eth0")),
            "outbound eth0 [2001:db8::1] > [2001:db8::2] icmp6 len 104");
}

TEST_F(DivertDump, UnnamedInterfaceShowsItsIndex) {
  EXPECT_EQ(dump_line(*packet(testing::make_ip_packet(4, 1, 0), Direction::outbound, "", 7)),
            "outbound if#7 192.0.2.1 > 198.51.100.2 icmp len 28");
}

TEST_F(DivertDump, MalformedSaysWhy) {
  auto bytes = testing::make_ip_packet(4, 17, 20);
  bytes.resize(12);
  EXPECT_EQ(dump_line(*packet(bytes, Direction::inbound, "eth0")),
            "inbound eth0 malformed (shorter than an IP header) len 12");
}

TEST_F(DivertDump, ALineIsCutToTheBuffer) {
  const auto bytes = testing::make_ip_packet(6, 17, 10);
  char small[20];
  const std::string_view line =
      format_dump_line(*packet(bytes, Direction::outbound, "veth0"), small);
  EXPECT_EQ(line.size(), sizeof small);
  EXPECT_EQ(line, "outbound veth0 [2001");
}

}  // namespace
}  // namespace badlink
