// pcap reading and writing through libpcap, and link-layer decoding; see pcap_file.hh.
#include "io/pcap_file.hh"

#include <pcap/pcap.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace badlink {

namespace {

// Large stdio buffers: a replay is a stream of small records, and the default few kilobytes
// cost a system call every few dozen packets.
constexpr size_t kStdioBuffer = size_t{1} << 20;

constexpr int64_t kNanosPerSecond = 1'000'000'000;

std::string errno_message(std::string_view what, const std::filesystem::path& file) {
  return std::string(what) + " " + file.string() + ": " + std::strerror(errno);
}

// A record's capture time in nanoseconds, or nullopt when it lies outside
// PcapReader::kTimestampRange (a pcapng stamp may hold any 64-bit count of its units).
std::optional<int64_t> nanos_since_epoch(int64_t seconds, int64_t fraction_ns) {
  // Bounds that keep the arithmetic below in range; the result's own range is checked after.
  // (A classic nanosecond file's fraction is any 32-bit value: libpcap does not check it.)
  constexpr int64_t kLimitSeconds = PcapReader::kTimestampRange / kNanosPerSecond + 1;
  constexpr int64_t kLimitFraction = int64_t{1} << 33;
  if (seconds < -kLimitSeconds || seconds > kLimitSeconds || fraction_ns < -kLimitFraction ||
      fraction_ns > kLimitFraction) {
    return std::nullopt;
  }
  const int64_t ns = seconds * kNanosPerSecond + fraction_ns;
  if (ns < -PcapReader::kTimestampRange || ns > PcapReader::kTimestampRange) {
    return std::nullopt;
  }
  return ns;
}

// "11551624184.876960000 s (about the year 2336)", for a stamp out of range.
std::string describe_seconds(int64_t seconds, int64_t fraction_ns) {
  constexpr int64_t kSecondsPerYear = 31'556'952;  // Gregorian mean
  char fraction[16] = {};
  std::snprintf(fraction, sizeof fraction, "%09lld", static_cast<long long>(fraction_ns));
  return std::to_string(seconds) + "." + fraction + " s (about the year " +
         std::to_string(1970 + seconds / kSecondsPerYear) + ")";
}

uint16_t read16(std::span<const std::byte> b, size_t at) {
  return static_cast<uint16_t>((std::to_integer<unsigned>(b[at]) << 8) |
                               std::to_integer<unsigned>(b[at + 1]));
}

uint32_t read32(std::span<const std::byte> b, size_t at) {
  return (uint32_t{read16(b, at)} << 16) | read16(b, at + 2);
}

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;

constexpr bool is_vlan_tag(uint16_t ethertype) {
  return ethertype == 0x8100 || ethertype == 0x88a8 || ethertype == 0x9100;
}

// What follows a header whose last two bytes are the EtherType `type`, ending at `offset`;
// VLAN tags (TCI, then the inner EtherType) are stepped over.
L3Location ip_after(std::span<const std::byte> frame, uint16_t type, size_t offset) {
  while (is_vlan_tag(type)) {
    if (frame.size() < offset + 4) {
      return {};
    }
    type = read16(frame, offset + 2);
    offset += 4;
  }
  if (type != kEtherIpv4 && type != kEtherIpv6) {
    return {};
  }
  return {static_cast<uint16_t>(offset), true};
}

// A header whose EtherType field sits at `type_at`, last in the header.
L3Location after_ethertype(std::span<const std::byte> frame, size_t type_at) {
  if (frame.size() < type_at + 2) {
    return {};
  }
  return ip_after(frame, read16(frame, type_at), type_at + 2);
}

// BSD loopback: a 4-byte address family, in the capturing host's byte order (NULL) or network
// order (LOOP). AF_INET is 2 everywhere; AF_INET6 differs by system.
L3Location after_loopback_family(std::span<const std::byte> frame) {
  if (frame.size() < 4) {
    return {};
  }
  uint32_t family = read32(frame, 0);
  if (family > 0xffff) {
    family = ((family & 0xff) << 24) | ((family & 0xff00) << 8) | ((family >> 8) & 0xff00) |
             (family >> 24);
  }
  const bool ip = family == 2 || family == 10 || family == 24 || family == 28 || family == 30;
  return {4, ip};
}

}  // namespace

// --- PcapReader ---------------------------------------------------------------------------

PcapReader::PcapReader(const std::filesystem::path& file)
    : file_(file.string()), buffer_(new char[kStdioBuffer]) {
  FILE* stream = std::fopen(file.c_str(), "rb");
  if (stream == nullptr) {
    throw PcapError(errno_message("cannot open", file));
  }
  if (std::setvbuf(stream, buffer_.get(), _IOFBF, kStdioBuffer) != 0) {
    std::fclose(stream);
    throw PcapError(errno_message("setvbuf on", file));
  }
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  handle_ = pcap_fopen_offline_with_tstamp_precision(stream, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (handle_ == nullptr) {
    std::fclose(stream);  // libpcap leaves the stream open when it fails
    throw PcapError(file.string() + ": " + errbuf);
  }
  link_type_ = pcap_datalink(handle_);
  snaplen_ = pcap_snapshot(handle_);
}

PcapReader::~PcapReader() {
  if (handle_ != nullptr) {
    pcap_close(handle_);
  }
}

std::optional<PcapRecord> PcapReader::next() {
  if (handle_ == nullptr || truncated_) {
    return std::nullopt;
  }
  pcap_pkthdr* header = nullptr;
  const u_char* bytes = nullptr;
  const int rc = pcap_next_ex(handle_, &header, &bytes);
  if (rc == 1) {
    // With nanosecond precision libpcap puts nanoseconds in tv_usec (scaling microsecond files).
    const auto seconds = static_cast<int64_t>(header->ts.tv_sec);
    const auto fraction = static_cast<int64_t>(header->ts.tv_usec);
    const std::optional<int64_t> ns = nanos_since_epoch(seconds, fraction);
    if (!ns) {
      throw PcapError(file_ + ": packet " + std::to_string(records_ + 1) + ": timestamp " +
                      describe_seconds(seconds, fraction) +
                      " is outside the years 1823-2116 that badlink replays");
    }
    ++records_;
    return PcapRecord{
        .timestamp = from_nanos(*ns),
        .wire_length = std::max(header->len, header->caplen),
        .data = {reinterpret_cast<const std::byte*>(bytes), header->caplen},
    };
  }
  if (rc == PCAP_ERROR_BREAK) {
    return std::nullopt;  // clean end of file
  }
  // PCAP_ERROR: a record cut short ("truncated dump file; ...") or one libpcap will not read
  // (an absurd captured length). Nothing after it can be trusted to be aligned on a record.
  truncated_ = true;
  error_ = pcap_geterr(handle_);
  return std::nullopt;
}

// --- PcapWriter ---------------------------------------------------------------------------

PcapWriter::PcapWriter(const std::filesystem::path& file, int link_type, int snaplen)
    : file_(file), buffer_(new char[kStdioBuffer]) {
  dead_ = pcap_open_dead_with_tstamp_precision(link_type, snaplen > 0 ? snaplen : 262144,
                                               PCAP_TSTAMP_PRECISION_NANO);
  if (dead_ == nullptr) {
    throw PcapError("pcap_open_dead_with_tstamp_precision failed for link type " +
                    std::to_string(link_type));
  }
  FILE* stream = std::fopen(file.c_str(), "wb");
  if (stream == nullptr) {
    const std::string message = errno_message("cannot create", file);
    pcap_close(dead_);
    throw PcapError(message);
  }
  if (std::setvbuf(stream, buffer_.get(), _IOFBF, kStdioBuffer) != 0) {
    const std::string message = errno_message("setvbuf on", file);
    std::fclose(stream);
    pcap_close(dead_);
    throw PcapError(message);
  }
  dumper_ = pcap_dump_fopen(dead_, stream);
  if (dumper_ == nullptr) {
    const std::string message = file.string() + ": " + pcap_geterr(dead_);
    std::fclose(stream);
    pcap_close(dead_);
    throw PcapError(message);
  }
}

PcapWriter::~PcapWriter() {
  // Only reached without close() on an error path: the caller discards the file anyway.
  if (dumper_ != nullptr) {
    pcap_dump_close(dumper_);
  }
  if (dead_ != nullptr) {
    pcap_close(dead_);
  }
}

void PcapWriter::write(TimePoint timestamp, std::span<const std::byte> data, uint32_t wire_length) {
  const int64_t ns = to_nanos(timestamp);
  pcap_pkthdr header{};
  header.ts.tv_sec = static_cast<time_t>(ns / kNanosPerSecond);
  header.ts.tv_usec = static_cast<suseconds_t>(ns % kNanosPerSecond);  // nanoseconds, see open
  header.caplen = static_cast<bpf_u_int32>(data.size());
  header.len = std::max(wire_length, header.caplen);
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &header,
            reinterpret_cast<const u_char*>(data.data()));
}

bool PcapWriter::failed() const {
  return dumper_ != nullptr && std::ferror(pcap_dump_file(dumper_)) != 0;
}

void PcapWriter::close() {
  if (dumper_ == nullptr) {
    return;
  }
  FILE* stream = pcap_dump_file(dumper_);
  int error = 0;
  errno = 0;
  if (pcap_dump_flush(dumper_) != 0 || std::ferror(stream) != 0) {
    error = errno != 0 ? errno : EIO;  // an earlier failed write leaves only the flag
  }
  // pcap_dump_close() reports nothing; closing a duplicate descriptor last shows what the
  // final close() says (delayed write errors on network file systems).
  const int fd = ::fileno(stream);
  const int kept = fd >= 0 ? ::dup(fd) : -1;
  pcap_dump_close(dumper_);
  dumper_ = nullptr;
  pcap_close(dead_);
  dead_ = nullptr;
  if (kept >= 0 && ::close(kept) != 0 && error == 0) {
    error = errno;
  }
  if (error != 0) {
    errno = error;
    throw PcapError(errno_message("cannot write", file_));
  }
}

// --- LinkLayer ----------------------------------------------------------------------------

std::optional<LinkLayer::Kind> LinkLayer::kind_of(int link_type) {
  switch (link_type) {
    case DLT_EN10MB:
      return Kind::ethernet;
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
      return Kind::raw_ip;
    case DLT_LINUX_SLL:
      return Kind::linux_sll;
    case DLT_LINUX_SLL2:
      return Kind::linux_sll2;
    case DLT_NULL:
    case DLT_LOOP:
      return Kind::loopback;
    default:
      return std::nullopt;
  }
}

bool LinkLayer::supported(int link_type) { return kind_of(link_type).has_value(); }

LinkLayer::LinkLayer(int link_type) : link_type_(link_type), kind_(Kind::raw_ip) {
  const std::optional<Kind> kind = kind_of(link_type);
  if (!kind) {
    const char* name = pcap_datalink_val_to_name(link_type);
    throw PcapError("unsupported link type " + std::to_string(link_type) +
                    (name != nullptr ? std::string(" (") + name + ")" : std::string()) +
                    "; replay reads Ethernet, raw IP, Linux cooked and BSD loopback captures");
  }
  kind_ = *kind;
}

std::string_view LinkLayer::name() const {
  const char* name = pcap_datalink_val_to_name(link_type_);
  return name != nullptr ? std::string_view(name) : std::string_view("unknown");
}

L3Location LinkLayer::locate(std::span<const std::byte> frame) const {
  switch (kind_) {
    case Kind::ethernet:
      return after_ethertype(frame, 12);  // dst(6) src(6) type(2)
    case Kind::raw_ip:
      return {0, true};
    case Kind::linux_sll:
      return after_ethertype(frame, 14);  // type, arphrd, addr len, addr(8), protocol
    case Kind::linux_sll2:
      // protocol(2) reserved(2) ifindex(4) arphrd(2) type(1) addr len(1) addr(8)
      return frame.size() < 20 ? L3Location{} : ip_after(frame, read16(frame, 0), 20);
    case Kind::loopback:
      return after_loopback_family(frame);
  }
  return {};
}

}  // namespace badlink
