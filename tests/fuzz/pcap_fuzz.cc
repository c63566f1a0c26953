// Fuzz target: bytes as a capture file (pcap or pcapng) through PcapReader, each record's
// link layer located and its IP headers parsed, as replay does. PcapReader reads a path, so
// the bytes go into a memfd that is opened through /proc/self/fd: the real open path, no disk.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/ip_headers.hh"
#include "fuzz_check.hh"
#include "io/pcap_file.hh"

namespace {

// Records read per input at most: a large pcapng of tiny blocks is not more interesting.
constexpr uint64_t kMaxRecords = 4096;

int capture_fd() {
  static const int fd = [] {
    const int created = ::memfd_create("badlink-fuzz-pcap", MFD_CLOEXEC);
    if (created < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return created;
  }();
  return fd;
}

void replace_contents(int fd, const uint8_t* data, size_t size) {
  if (::ftruncate(fd, 0) != 0) {
    std::perror("ftruncate");
    std::abort();
  }
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) {
      std::perror("pwrite");
      std::abort();
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace badlink;
  const int fd = capture_fd();
  replace_contents(fd, data, size);
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  try {
    PcapReader reader(path);
    const bool supported = LinkLayer::supported(reader.link_type());
    while (const std::optional<PcapRecord> record = reader.next()) {
      fuzz::check(record->wire_length >= record->data.size(), "wire length >= captured bytes");
      const int64_t ns = to_nanos(record->timestamp);
      fuzz::check(ns >= -PcapReader::kTimestampRange && ns <= PcapReader::kTimestampRange,
                  "timestamps lie within kTimestampRange");
      if (supported) {
        const LinkLayer link(reader.link_type());
        const L3Location l3 = link.locate(record->data);
        if (l3.ip) {
          fuzz::check(l3.offset <= record->data.size(), "the IP header starts inside the frame");
          const IpHeaders h = parse_ip(record->data.subspan(l3.offset));
          fuzz::check(!h.ok() || h.l4_offset <= record->data.size() - l3.offset,
                      "the L4 header starts inside the packet");
        }
      }
      if (reader.records() >= kMaxRecords) {
        break;
      }
    }
  } catch (const PcapError&) {
    // Not a capture, or a timestamp out of range: refused with a message, as it should be.
  }
  return 0;
}
