// Reading and writing pcap captures through libpcap with nanosecond timestamps, and finding
// the IP header behind each supported link layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/time.hh"

// libpcap's handles, kept out of this header so that users need not see <pcap.h>.
struct pcap;
struct pcap_dumper;

namespace badlink {

// A capture that cannot be opened, read from the start, or written.
class PcapError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One record as libpcap hands it over: the bytes are libpcap's and valid until the next read.
struct PcapRecord {
  TimePoint timestamp{};            // capture time, nanoseconds since the Unix epoch
  uint32_t wire_length = 0;         // bytes the frame had on the wire (>= data.size())
  std::span<const std::byte> data;  // the captured bytes
};

class PcapReader {
 public:
  // Opens the file and reads its header; throws PcapError when it is missing, unreadable or
  // not a capture.
  explicit PcapReader(const std::filesystem::path& file);
  ~PcapReader();
  PcapReader(const PcapReader&) = delete;
  PcapReader& operator=(const PcapReader&) = delete;

  // The next record, or nullopt at the end. A file cut mid-record (or a record libpcap
  // refuses) also ends the reading: then truncated() is true and error() says why. Throws
  // PcapError, naming the file and the packet, for a record whose timestamp lies outside
  // kTimestampRange: a capture time past 2116 is damage, not a cut.
  std::optional<PcapRecord> next();

  // Capture times are held within +-2^62 ns of the epoch (years 1823-2116): every stamp a
  // classic pcap file can hold (32-bit seconds) fits, and the engine can add any delay to it
  // without leaving int64 nanoseconds (the limit, in 2262, would otherwise be undefined).
  static constexpr int64_t kTimestampRange = int64_t{1} << 62;

  int link_type() const { return link_type_; }  // a DLT_ value
  int snaplen() const { return snaplen_; }
  bool truncated() const { return truncated_; }
  const std::string& error() const { return error_; }
  uint64_t records() const { return records_; }

 private:
  std::string file_;                // for messages
  std::unique_ptr<char[]> buffer_;  // stdio buffer for the file; outlives the handle
  pcap* handle_ = nullptr;
  int link_type_ = 0;
  int snaplen_ = 0;
  bool truncated_ = false;
  std::string error_;
  uint64_t records_ = 0;
};

class PcapWriter {
 public:
  // Creates (or truncates) the file and writes a nanosecond pcap header for `link_type`.
  PcapWriter(const std::filesystem::path& file, int link_type, int snaplen);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // Buffered; never throws. Write errors show up in failed() and at close().
  void write(TimePoint timestamp, std::span<const std::byte> data, uint32_t wire_length);

  // True once a write has failed (disk full, I/O error); checking it now and then lets a long
  // replay stop early instead of at close().
  bool failed() const;

  // Flushes and closes; throws PcapError when anything written did not reach the file.
  void close();

 private:
  std::filesystem::path file_;
  std::unique_ptr<char[]> buffer_;
  pcap* dead_ = nullptr;
  pcap_dumper* dumper_ = nullptr;
};

// Where a frame's IP header starts; `ip` is false for frames that carry something else (ARP,
// LLDP, ...) or are too short to tell.
struct L3Location {
  uint16_t offset = 0;
  bool ip = false;
};

// The link layers replay understands: Ethernet (with 802.1Q/802.1ad tags), raw IP (LINKTYPE_RAW,
// IPV4, IPV6), Linux cooked captures v1 and v2, and BSD loopback (NULL, LOOP).
class LinkLayer {
 public:
  // Throws PcapError for a link type not in the list above.
  explicit LinkLayer(int link_type);

  static bool supported(int link_type);

  L3Location locate(std::span<const std::byte> frame) const;
  int link_type() const { return link_type_; }
  std::string_view name() const;

 private:
  enum class Kind : uint8_t { ethernet, raw_ip, linux_sll, linux_sll2, loopback };

  static std::optional<Kind> kind_of(int link_type);

  int link_type_;
  Kind kind_;
};

}  // namespace badlink
