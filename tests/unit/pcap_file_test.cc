// PcapReader, PcapWriter and LinkLayer against captures written and read by libpcap itself.
#include "io/pcap_file.hh"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "pcap_helpers.hh"
#include "temp_dir.hh"

namespace badlink {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

using Frame = testing::PcapFrame;
using testing::read_with_libpcap;
using testing::write_with_libpcap;

std::vector<std::byte> bytes_of(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (const int v : values) {
    out.push_back(static_cast<std::byte>(v));
  }
  return out;
}

std::vector<std::byte> counting_bytes(size_t n, uint8_t start) {
  std::vector<std::byte> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<std::byte>((start + i) & 0xff);
  }
  return out;
}

std::vector<Frame> sample_frames() {
  return {
      {1'700'000'000'123'456'789, counting_bytes(60, 1), 0},
      {1'700'000'000'123'456'790, counting_bytes(1514, 2), 0},
      {1'700'000'001'000'000'001, counting_bytes(96, 3), 1514},  // snapped
  };
}

TEST(PcapReader, ReadsWhatLibpcapWroteWithNanosecondStamps) {
  TempDir dir;
  const auto frames = sample_frames();
  write_with_libpcap(dir / "in.pcap", DLT_EN10MB, frames, PCAP_TSTAMP_PRECISION_NANO, 4096);

  PcapReader reader(dir / "in.pcap");
  EXPECT_EQ(reader.link_type(), DLT_EN10MB);
  EXPECT_EQ(reader.snaplen(), 4096);
  for (const Frame& want : frames) {
    const auto record = reader.next();
    ASSERT_TRUE(record.has_value());
    EXPECT_EQ(to_nanos(record->timestamp), want.nanos);
    EXPECT_EQ(record->wire_length, want.wire_length != 0 ? want.wire_length : want.bytes.size());
    ASSERT_EQ(record->data.size(), want.bytes.size());
    EXPECT_EQ(std::memcmp(record->data.data(), want.bytes.data(), want.bytes.size()), 0);
  }
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_FALSE(reader.next().has_value());  // stays at the end
  EXPECT_FALSE(reader.truncated());
  EXPECT_TRUE(reader.error().empty());
  EXPECT_EQ(reader.records(), frames.size());
}

TEST(PcapReader, ScalesMicrosecondCapturesToNanoseconds) {
  TempDir dir;
  write_with_libpcap(dir / "us.pcap", DLT_RAW,
                     {{1'600'000'000'654'321'000, counting_bytes(40, 0), 0}},
                     PCAP_TSTAMP_PRECISION_MICRO);
  PcapReader reader(dir / "us.pcap");
  const auto record = reader.next();
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(to_nanos(record->timestamp), 1'600'000'000'654'321'000);
  EXPECT_EQ(reader.link_type(), DLT_RAW);
}

TEST(PcapReader, EmptyCaptureHasNoRecords) {
  TempDir dir;
  write_with_libpcap(dir / "empty.pcap", DLT_EN10MB, {});
  PcapReader reader(dir / "empty.pcap");
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_FALSE(reader.truncated());
}

// A file cut anywhere inside a record (its 16-byte header or its data) ends the reading with
// truncated() set; the records before the cut all come out. A cut between records is a clean end.
TEST(PcapReader, FileCutMidRecordStopsThereAndSaysSo) {
  TempDir dir;
  std::vector<Frame> frames;
  for (int i = 0; i < 5; ++i) {
    frames.push_back({1'000'000'000LL * (i + 1), counting_bytes(100, static_cast<uint8_t>(i)), 0});
  }
  write_with_libpcap(dir / "full.pcap", DLT_EN10MB, frames);
  const auto full_size = fs::file_size(dir / "full.pcap");
  const uintmax_t record_size = 16 + 100;
  ASSERT_EQ(full_size, 24 + 5 * record_size);

  struct Cut {
    uintmax_t size;
    uint64_t records;
    bool truncated;
  };
  const Cut cuts[] = {
      {full_size - 7, 4, true},             // inside the last record's data
      {full_size - 100 - 8, 4, true},       // inside the last record's header
      {full_size - record_size, 4, false},  // exactly between records
      {24 + 3, 0, true},                    // inside the first header
  };
  for (const Cut& cut : cuts) {
    SCOPED_TRACE("cut at " + std::to_string(cut.size));
    fs::copy_file(dir / "full.pcap", dir / "cut.pcap", fs::copy_options::overwrite_existing);
    fs::resize_file(dir / "cut.pcap", cut.size);
    PcapReader reader(dir / "cut.pcap");
    uint64_t n = 0;
    while (const auto record = reader.next()) {
      EXPECT_EQ(to_nanos(record->timestamp), frames[n].nanos);
      ++n;
    }
    EXPECT_EQ(n, cut.records);
    EXPECT_EQ(reader.records(), cut.records);
    EXPECT_EQ(reader.truncated(), cut.truncated);
    EXPECT_EQ(reader.error().empty(), !cut.truncated);
    EXPECT_FALSE(reader.next().has_value());
  }
}

TEST(PcapReader, MissingOrForeignFilesThrow) {
  TempDir dir;
  EXPECT_THROW(PcapReader(dir / "missing.pcap"), PcapError);
  {
    std::ofstream text(dir / "notes.txt");
    text << "this is not a capture, just some text that is long enough\n";
  }
  EXPECT_THROW(PcapReader(dir / "notes.txt"), PcapError);
  fs::resize_file(dir / "notes.txt", 0);
  EXPECT_THROW(PcapReader(dir / "notes.txt"), PcapError);
  try {
    PcapReader reader(dir / "missing.pcap");
    FAIL() << "no exception";
  } catch (const PcapError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pcap"), std::string::npos) << e.what();
  }
}

TEST(PcapWriter, WritesNanosecondCapturesLibpcapReads) {
  TempDir dir;
  const auto frames = sample_frames();
  {
    PcapWriter writer(dir / "out.pcap", DLT_EN10MB, 65535);
    for (const Frame& f : frames) {
      writer.write(from_nanos(f.nanos), f.bytes,
                   f.wire_length != 0 ? f.wire_length : static_cast<uint32_t>(f.bytes.size()));
    }
    EXPECT_FALSE(writer.failed());
    writer.close();
    writer.close();  // a second close does nothing
  }
  // Nanosecond magic number, as tcpdump expects for nanosecond files.
  std::ifstream raw(dir / "out.pcap", std::ios::binary);
  uint32_t magic = 0;
  raw.read(reinterpret_cast<char*>(&magic), sizeof magic);
  EXPECT_EQ(magic, 0xa1b23c4dU);

  const testing::PcapCapture back = read_with_libpcap(dir / "out.pcap");
  EXPECT_EQ(back.link_type, DLT_EN10MB);
  ASSERT_EQ(back.frames.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(back.frames[i].nanos, frames[i].nanos);
    EXPECT_EQ(back.frames[i].bytes, frames[i].bytes);
    EXPECT_EQ(back.frames[i].wire_length,
              frames[i].wire_length != 0 ? frames[i].wire_length : frames[i].bytes.size());
  }
}

TEST(PcapWriter, WireLengthIsNeverBelowTheCapturedLength) {
  TempDir dir;
  {
    PcapWriter writer(dir / "out.pcap", DLT_RAW, 65535);
    writer.write(from_nanos(5), counting_bytes(50, 0), 10);
    writer.close();
  }
  const testing::PcapCapture back = read_with_libpcap(dir / "out.pcap");
  ASSERT_EQ(back.frames.size(), 1U);
  EXPECT_EQ(back.frames[0].wire_length, 50U);
}

TEST(PcapWriter, UnwritablePlaceThrows) {
  TempDir dir;
  EXPECT_THROW(PcapWriter(dir / "no-such-dir" / "out.pcap", DLT_EN10MB, 65535), PcapError);
}

TEST(PcapWriter, FullDeviceIsReportedAtClose) {
  if (!fs::exists("/dev/full")) {
    GTEST_SKIP() << "no /dev/full";
  }
  PcapWriter writer("/dev/full", DLT_EN10MB, 65535);
  const auto frame = counting_bytes(1500, 0);
  for (int i = 0; i < 10; ++i) {
    writer.write(from_nanos(i), frame, 1500);
  }
  EXPECT_THROW(writer.close(), PcapError);
}

// --- Timestamps out of range ---

// A pcapng file of one Ethernet interface whose timestamps count `tsresol` units (pcapng's
// if_tsresol: 10^-n s); each stamp is a raw 64-bit count of them.
std::vector<std::byte> pcapng_with_stamps(const std::vector<uint64_t>& stamps, uint8_t tsresol) {
  std::vector<std::byte> out;
  const auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) {
      out.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xff));  // little-endian file
    }
  };
  put32(0x0a0d0d0a);  // section header block
  put32(28);
  put32(0x1a2b3c4d);
  put32(1);  // version 1.0
  put32(0xffffffff);
  put32(0xffffffff);  // section length unknown
  put32(28);
  put32(1);  // interface description block, with if_tsresol and opt_endofopt
  put32(32);
  put32(DLT_EN10MB);
  put32(65535);
  put32(0x0001'0009);  // option 9 (if_tsresol), length 1
  put32(tsresol);
  put32(0);
  put32(32);
  for (const uint64_t stamp : stamps) {
    put32(6);  // enhanced packet block with a 60-byte frame
    put32(32 + 60);
    put32(0);
    put32(static_cast<uint32_t>(stamp >> 32));
    put32(static_cast<uint32_t>(stamp));
    put32(60);
    put32(60);
    const auto frame = counting_bytes(60, 7);
    out.insert(out.end(), frame.begin(), frame.end());
    put32(32 + 60);
  }
  return out;
}

void write_file(const fs::path& file, const std::vector<std::byte>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// What next() throws after reading `good` records, or "" when it reads to the end.
std::string error_after(const fs::path& file, uint64_t good) {
  PcapReader reader(file);
  try {
    while (reader.next()) {
    }
  } catch (const PcapError& e) {
    EXPECT_EQ(reader.records(), good);
    return e.what();
  }
  EXPECT_EQ(reader.records(), good);
  return "";
}

TEST(PcapReader, TimestampPastTheRangeIsAnErrorNamingFileAndPacket) {
  TempDir dir;
  constexpr uint64_t kYear2336Us = 11'551'624'184'876'960;  // the finding's stamp (us)
  write_file(dir / "far.pcapng", pcapng_with_stamps({1'700'000'000'000'000, kYear2336Us}, 6));
  const std::string message = error_after(dir / "far.pcapng", 1);
  EXPECT_NE(message.find("far.pcapng: packet 2: timestamp 11551624184.876960000 s"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("2336"), std::string::npos) << message;
}

TEST(PcapReader, TimestampsAtTheEdgesOfTheRange) {
  TempDir dir;
  constexpr auto kLimit = static_cast<uint64_t>(PcapReader::kTimestampRange);
  write_file(dir / "edge.pcapng", pcapng_with_stamps({kLimit}, 9));
  {
    PcapReader reader(dir / "edge.pcapng");
    const auto record = reader.next();
    ASSERT_TRUE(record.has_value());
    EXPECT_EQ(to_nanos(record->timestamp), PcapReader::kTimestampRange);
  }
  write_file(dir / "past.pcapng", pcapng_with_stamps({kLimit + 1}, 9));
  EXPECT_NE(error_after(dir / "past.pcapng", 0).find("packet 1"), std::string::npos);
  // Whole seconds past 2^63 become negative seconds in libpcap's time_t: refused as well.
  write_file(dir / "wrapped.pcapng", pcapng_with_stamps({(uint64_t{1} << 63) + 5}, 0));
  EXPECT_NE(error_after(dir / "wrapped.pcapng", 0).find("packet 1"), std::string::npos);
}

// The first finding of issue 21: packet 5 of 30 stamped in 2336 (UBSan: signed overflow).
TEST(PcapReader, FuzzFindingTimestampOverflow) {
  const fs::path file = fs::path(BADLINK_SOURCE_DIR) / "tests/fuzz/regressions/pcap" /
                        "pcapng-timestamp-overflow.pcapng";
  const std::string message = error_after(file, 4);
  EXPECT_NE(message.find("pcapng-timestamp-overflow.pcapng: packet 5: timestamp"),
            std::string::npos)
      << message;
}

// --- LinkLayer ---

std::vector<std::byte> ethernet(std::initializer_list<int> type_and_tags, size_t payload) {
  std::vector<std::byte> f(12, std::byte{0xaa});
  for (const int v : type_and_tags) {
    f.push_back(static_cast<std::byte>(v));
  }
  const auto body = counting_bytes(payload, 0x45);
  f.insert(f.end(), body.begin(), body.end());
  return f;
}

TEST(LinkLayer, EthernetFindsIpBehindVlanTags) {
  const LinkLayer link(DLT_EN10MB);
  EXPECT_EQ(link.name(), "EN10MB");

  auto l3 = link.locate(ethernet({0x08, 0x00}, 20));
  EXPECT_TRUE(l3.ip);
  EXPECT_EQ(l3.offset, 14);

  l3 = link.locate(ethernet({0x86, 0xdd}, 40));
  EXPECT_TRUE(l3.ip);
  EXPECT_EQ(l3.offset, 14);

  l3 = link.locate(ethernet({0x81, 0x00, 0x00, 0x05, 0x08, 0x00}, 20));  // 802.1Q
  EXPECT_TRUE(l3.ip);
  EXPECT_EQ(l3.offset, 18);

  l3 = link.locate(ethernet({0x88, 0xa8, 0x00, 0x05, 0x81, 0x00, 0x00, 0x06, 0x86, 0xdd}, 40));
  EXPECT_TRUE(l3.ip);  // 802.1ad QinQ
  EXPECT_EQ(l3.offset, 22);

  EXPECT_FALSE(link.locate(ethernet({0x08, 0x06}, 28)).ip);       // ARP
  EXPECT_FALSE(link.locate(ethernet({0x00, 0x40}, 64)).ip);       // 802.3 length
  EXPECT_FALSE(link.locate(ethernet({0x81, 0x00, 0x00}, 0)).ip);  // tag cut short
  EXPECT_FALSE(link.locate(ethernet({0x81, 0x00, 0x00, 0x05, 0x08, 0x06}, 28)).ip);
  EXPECT_FALSE(link.locate(counting_bytes(13, 0)).ip);  // no EtherType
  EXPECT_FALSE(link.locate({}).ip);
}

TEST(LinkLayer, RawIpStartsAtZero) {
  for (const int dlt : {DLT_RAW, DLT_IPV4, DLT_IPV6}) {
    const LinkLayer link(dlt);
    const auto l3 = link.locate(counting_bytes(40, 0x60));
    EXPECT_TRUE(l3.ip);
    EXPECT_EQ(l3.offset, 0);
  }
}

TEST(LinkLayer, LinuxCookedCaptures) {
  const LinkLayer sll(DLT_LINUX_SLL);
  std::vector<std::byte> f(14, std::byte{0});
  for (const int v : {0x08, 0x00}) {
    f.push_back(static_cast<std::byte>(v));
  }
  f.resize(36, std::byte{0x45});
  auto l3 = sll.locate(f);
  EXPECT_TRUE(l3.ip);
  EXPECT_EQ(l3.offset, 16);
  f[14] = std::byte{0x08};
  f[15] = std::byte{0x06};
  EXPECT_FALSE(sll.locate(f).ip);

  const LinkLayer sll2(DLT_LINUX_SLL2);
  std::vector<std::byte> g = bytes_of({0x86, 0xdd});
  g.resize(60, std::byte{0x60});
  l3 = sll2.locate(g);
  EXPECT_TRUE(l3.ip);
  EXPECT_EQ(l3.offset, 20);
  EXPECT_FALSE(sll2.locate(bytes_of({0x86, 0xdd, 0, 0})).ip);  // header cut short
}

TEST(LinkLayer, BsdLoopbackInEitherByteOrder) {
  const LinkLayer null(DLT_NULL);
  auto l3 = null.locate(bytes_of({2, 0, 0, 0, 0x45, 0}));  // AF_INET, little-endian host
  EXPECT_TRUE(l3.ip);
  EXPECT_EQ(l3.offset, 4);
  EXPECT_TRUE(null.locate(bytes_of({0, 0, 0, 30, 0x60})).ip);  // AF_INET6 (Darwin), big-endian
  EXPECT_FALSE(null.locate(bytes_of({7, 0, 0, 0, 0})).ip);
  EXPECT_FALSE(null.locate(bytes_of({2, 0})).ip);
  const LinkLayer loop(DLT_LOOP);
  EXPECT_TRUE(loop.locate(bytes_of({0, 0, 0, 24, 0x60})).ip);  // AF_INET6 (OpenBSD)
}

TEST(LinkLayer, UnsupportedLinkTypesAreRefusedByName) {
  EXPECT_TRUE(LinkLayer::supported(DLT_EN10MB));
  EXPECT_TRUE(LinkLayer::supported(DLT_LINUX_SLL2));
  EXPECT_FALSE(LinkLayer::supported(DLT_IEEE802_11));
  try {
    const LinkLayer link(DLT_IEEE802_11);
    FAIL() << "no exception";
  } catch (const PcapError& e) {
    EXPECT_NE(std::string(e.what()).find("IEEE802_11"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace badlink
