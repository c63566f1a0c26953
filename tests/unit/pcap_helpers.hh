// Captures written and read with libpcap itself, the reference the pcap and replay tests check
// badlink against.
#pragma once

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace badlink::testing {

struct PcapFrame {
  int64_t nanos = 0;
  std::vector<std::byte> bytes;
  uint32_t wire_length = 0;  // 0 (or less than bytes): bytes.size()
};

struct PcapCapture {
  int link_type = -1;
  std::vector<PcapFrame> frames;
};

// Writes `frames` with libpcap at nanosecond or microsecond precision.
inline void write_with_libpcap(const std::filesystem::path& file, int link_type,
                               const std::vector<PcapFrame>& frames,
                               u_int precision = PCAP_TSTAMP_PRECISION_NANO, int snaplen = 65535) {
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(link_type, snaplen, precision);
  ASSERT_NE(dead, nullptr);
  pcap_dumper_t* dumper = pcap_dump_open(dead, file.c_str());
  ASSERT_NE(dumper, nullptr) << pcap_geterr(dead);
  const int64_t per_second = precision == PCAP_TSTAMP_PRECISION_NANO ? 1'000'000'000 : 1'000'000;
  const int64_t unit = precision == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
  for (const PcapFrame& f : frames) {
    pcap_pkthdr h{};
    const int64_t ticks = f.nanos / unit;
    h.ts.tv_sec = static_cast<time_t>(ticks / per_second);
    h.ts.tv_usec = static_cast<suseconds_t>(ticks % per_second);
    h.caplen = static_cast<bpf_u_int32>(f.bytes.size());
    h.len = std::max<bpf_u_int32>(f.wire_length, h.caplen);
    pcap_dump(reinterpret_cast<u_char*>(dumper), &h,
              reinterpret_cast<const u_char*>(f.bytes.data()));
  }
  pcap_dump_close(dumper);
  pcap_close(dead);
}

// Reads a capture with libpcap (nanosecond stamps); a file that does not end cleanly after
// its last record fails the test.
inline PcapCapture read_with_libpcap(const std::filesystem::path& file) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p =
      pcap_open_offline_with_tstamp_precision(file.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  EXPECT_NE(p, nullptr) << errbuf;
  PcapCapture out;
  if (p == nullptr) {
    return out;
  }
  out.link_type = pcap_datalink(p);
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  int rc = 0;
  while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
    PcapFrame f;
    f.nanos = static_cast<int64_t>(h->ts.tv_sec) * 1'000'000'000 + h->ts.tv_usec;
    const auto* first = reinterpret_cast<const std::byte*>(data);
    f.bytes.assign(first, first + h->caplen);
    f.wire_length = h->len;
    out.frames.push_back(std::move(f));
  }
  EXPECT_EQ(rc, PCAP_ERROR_BREAK) << "a capture must end cleanly: " << pcap_geterr(p);
  pcap_close(p);
  return out;
}

}  // namespace badlink::testing
