// The badlink executable as a user meets it: run through the shell, judged by exit status,
// standard output and standard error.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "temp_dir.hh"

#ifndef BADLINK_BINARY
#error "BADLINK_BINARY must name the badlink executable (a compile definition)"
#endif

namespace {

namespace fs = std::filesystem;

using badlink::testing::TempDir;

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs `badlink ARGS` (ARGS already shell-quoted where needed).
Outcome badlink(const std::string& args) {
  TempDir dir;
  const fs::path err_file = dir / "stderr";
  const std::string command =
      quote(BADLINK_BINARY) + " " + args + " 2>" + quote(err_file.string()) + " </dev/null";
  Outcome run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed";
    return run;
  }
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    run.out.append(buffer.data(), n);
  }
  const int raw = ::pclose(pipe);
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  run.err = read_file(err_file);
  return run;
}

constexpr const char* kGoodProfile = R"([profile]
name = "cli-test"

[outbound]
delay = "10ms"
)";

constexpr const char* kBadProfile = R"([profile]
name = "cli-test-bad"

[outbound]
delay = 40
loss = "250%"
)";

// A nanosecond pcap written by hand (the format is four fields of header per record), so that
// this test needs nothing but the binary.
void put32(std::string& out, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);
  out.append(b, 4);
}

std::string ethernet_udp_capture(int packets, uint32_t first_second) {
  std::string out;
  put32(out, 0xa1b23c4d);      // nanosecond magic, host byte order
  put32(out, 2 | (4u << 16));  // version 2.4
  put32(out, 0);
  put32(out, 0);
  put32(out, 65535);
  put32(out, 1);  // LINKTYPE_ETHERNET
  for (int i = 0; i < packets; ++i) {
    std::string frame(12, '\x02');
    frame += std::string("\x08\x00", 2);
    // IPv4 header (checksum left 0: the replay does not judge checksums) + UDP + 4 bytes.
    const unsigned char ip[] = {0x45, 0, 0,   32, 0, 0, 0,   0,  64,  17,
                                0,    0, 192, 0,  2, 1, 198, 51, 100, 2};
    frame.append(reinterpret_cast<const char*>(ip), sizeof ip);
    const unsigned char udp[] = {0x9c, 0x40, 0x13, 0x88, 0, 12, 0, 0, 't', 'e', 's', 't'};
    frame.append(reinterpret_cast<const char*>(udp), sizeof udp);
    put32(out, first_second);
    put32(out, static_cast<uint32_t>(i) * 1000);  // i microseconds, in nanoseconds
    put32(out, static_cast<uint32_t>(frame.size()));
    put32(out, static_cast<uint32_t>(frame.size()));
    out += frame;
  }
  return out;
}

// (seconds, nanoseconds) of each record of a nanosecond pcap in host byte order.
std::vector<std::pair<uint32_t, uint32_t>> record_times(const std::string& capture) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  uint32_t magic = 0;
  if (capture.size() < 24) {
    return out;
  }
  std::memcpy(&magic, capture.data(), 4);
  EXPECT_EQ(magic, 0xa1b23c4dU);
  size_t at = 24;
  while (at + 16 <= capture.size()) {
    uint32_t h[4];
    std::memcpy(h, capture.data() + at, 16);
    out.emplace_back(h[0], h[1]);
    at += 16 + h[2];
  }
  EXPECT_EQ(at, capture.size());
  return out;
}

TEST(Cli, VersionAndHelp) {
  Outcome r = badlink("--version");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "badlink 0.1.0\n");

  r = badlink("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* word : {"check", "show", "replay", "Exit status", "--verbose", "--quiet"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  }

  r = badlink("replay --help");
  EXPECT_EQ(r.status, 0);
  for (const char* word : {"--profile", "--in", "--out", "--direction", "--seed", "--stats-json",
                           "truncated_input", "Exit status"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  }
  EXPECT_EQ(badlink("check --help").status, 0);
  EXPECT_EQ(badlink("show -h").status, 0);
}

TEST(Cli, BadUsageExitsTwo) {
  EXPECT_EQ(badlink("").status, 2);
  Outcome r = badlink("frobnicate");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("frobnicate"), std::string::npos) << r.err;
  EXPECT_EQ(badlink("--bogus").status, 2);
  EXPECT_EQ(badlink("check --bogus x.toml").status, 2);
  EXPECT_EQ(badlink("check").status, 2);
  EXPECT_EQ(badlink("show a.toml b.toml").status, 2);
  EXPECT_EQ(badlink("-v -q --version").status, 2);
  r = badlink("replay --in a.pcap --out b.pcap");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("profile"), std::string::npos) << r.err;
  // Checked before anything is set up (no root needed to be told).
  for (const char* nice : {"30", "-21", "x", "-3.5", ""}) {
    r = badlink(std::string("run --nice '") + nice + "'");
    EXPECT_EQ(r.status, 2) << nice;
    EXPECT_NE(
        r.err.find("--nice must be an integer from -20 to 19, not '" + std::string(nice) + "'"),
        std::string::npos)
        << r.err;
  }
  r = badlink("run --nice -5 --realtime");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--nice and --realtime exclude each other"), std::string::npos) << r.err;
}

TEST(Cli, CheckGoodAndBadProfiles) {
  TempDir dir;
  const fs::path good = dir / "good.toml";
  const fs::path bad = dir / "bad.toml";
  write_file(good, kGoodProfile);
  write_file(bad, kBadProfile);

  Outcome r = badlink("check " + quote(good.string()));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, good.string() + ": ok\n");

  r = badlink("check " + quote(bad.string()));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  const std::regex diagnostic(
      "^" + std::regex_replace(bad.string(), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
      R"(:[0-9]+:[0-9]+: .+$)");
  size_t lines = 0;
  std::istringstream err(r.err);
  for (std::string line; std::getline(err, line);) {
    EXPECT_TRUE(std::regex_match(line, diagnostic)) << line;
    ++lines;
  }
  EXPECT_GE(lines, 2U) << "every problem is reported: " << r.err;

  r = badlink("check " + quote(good.string()) + " " + quote(bad.string()) + " " +
              quote((dir / "missing.toml").string()));
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, good.string() + ": ok\n");
  EXPECT_NE(r.err.find("missing.toml"), std::string::npos) << r.err;
}

constexpr const char* kLinksProfile = R"([profile]
name = "office"

[[link]]
name = "video"
match = { protocol = "udp", ports = ["5000-5100"] }
outbound = { delay = "80ms", loss = "1%" }

[[link]]
name = "rest"
outbound = { delay = "20ms" }
)";

// Several links: check counts them, show renders them, and run takes them (stopped here by
// --wan naming an interface that does not exist, before it touches anything).
TEST(Cli, ProfilesWithLinks) {
  TempDir dir;
  const fs::path office = dir / "office.toml";
  write_file(office, kLinksProfile);
  Outcome r = badlink("check " + quote(office.string()));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, office.string() + ": ok (2 links)\n");

  r = badlink("show " + quote(office.string()));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("[[link]]\nname = \"video\"\n# gets: udp, ports 5000-5100\n"),
            std::string::npos)
      << r.out;
  write_file(dir / "shown.toml", r.out);
  EXPECT_EQ(badlink("check " + quote((dir / "shown.toml").string())).out,
            (dir / "shown.toml").string() + ": ok (2 links)\n");

  // run takes every link: this one gets as far as the missing interface.
  r = badlink("run --profile " + quote(office.string()) + " --wan badlink-none0");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--wan: there is no interface 'badlink-none0'"), std::string::npos) << r.err;

  write_file(dir / "in.pcap", ethernet_udp_capture(3, 1'700'000'000));
  r = badlink("replay -q --profile " + quote(office.string()) + " --in " +
              quote((dir / "in.pcap").string()) + " --out " + quote((dir / "out.pcap").string()) +
              " --stats-json -");
  EXPECT_EQ(r.status, 0) << r.err;
  const auto stats = nlohmann::ordered_json::parse(r.out);
  std::vector<std::string> links;
  for (const auto& [name, link] : stats.at("links").items()) {
    links.push_back(name);
    EXPECT_TRUE(link.at("outbound").at("delay_us").at("p99").is_number()) << name;
    EXPECT_TRUE(link.at("inbound").at("received").is_number_unsigned()) << name;
  }
  EXPECT_EQ(links, (std::vector<std::string>{"video", "rest"})) << "in the profile's order";
  EXPECT_EQ(stats.at("unmatched"), 0U);
}

TEST(Cli, ShowWithoutAProfilePrintsTheBuiltInDefault) {
  const Outcome r = badlink("show");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("name = \"lte\""), std::string::npos) << r.out;
}

TEST(Cli, ShowPrintsAProfileThatChecksOk) {
  TempDir dir;
  write_file(dir / "good.toml", kGoodProfile);
  Outcome r = badlink("show " + quote((dir / "good.toml").string()));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("cli-test"), std::string::npos) << r.out;
  write_file(dir / "shown.toml", r.out);
  EXPECT_EQ(badlink("check " + quote((dir / "shown.toml").string())).status, 0);

  write_file(dir / "bad.toml", kBadProfile);
  EXPECT_EQ(badlink("show " + quote((dir / "bad.toml").string())).status, 2);
}

TEST(Cli, ReplayWritesTheDelayedCaptureAndStats) {
  TempDir dir;
  write_file(dir / "p.toml", kGoodProfile);
  write_file(dir / "in.pcap", ethernet_udp_capture(5, 1'700'000'000));
  const std::string common = "replay --profile " + quote((dir / "p.toml").string()) + " --in " +
                             quote((dir / "in.pcap").string()) + " --out " +
                             quote((dir / "out.pcap").string());

  Outcome r = badlink(common + " --stats-json " + quote((dir / "stats.json").string()));
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("use --seed"), std::string::npos) << "a random seed is logged: " << r.err;
  const auto times = record_times(read_file(dir / "out.pcap"));
  ASSERT_EQ(times.size(), 5U);
  for (size_t i = 0; i < times.size(); ++i) {
    EXPECT_EQ(times[i].first, 1'700'000'000U);
    EXPECT_EQ(times[i].second, i * 1000 + 10'000'000);
  }
  const auto stats = nlohmann::json::parse(read_file(dir / "stats.json"));
  EXPECT_TRUE(stats.at("seed").is_number_unsigned());
  EXPECT_EQ(stats.at("profile"), "cli-test");
  EXPECT_EQ(stats.at("input_packets"), 5U);
  EXPECT_EQ(stats.at("truncated_input"), false);
  const auto& outbound = stats.at("links").at("default").at("outbound");
  EXPECT_EQ(outbound.at("sent"), 5U);
  EXPECT_EQ(outbound.at("delay_us").at("p99"), 10000.0);
  EXPECT_EQ(stats.at("links").at("default").at("inbound").at("received"), 0U);

  r = badlink(common + " --seed 1234 -q --stats-json -");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("seed"), 1234U) << r.out;
  EXPECT_EQ(r.err, "") << "-q keeps info messages quiet";

  r = badlink(common + " --seed 1234");
  EXPECT_NE(r.err.find("seed 1234"), std::string::npos) << r.err;
}

TEST(Cli, ReplayOfATruncatedCaptureWarnsAndSucceeds) {
  TempDir dir;
  write_file(dir / "p.toml", kGoodProfile);
  std::string capture = ethernet_udp_capture(4, 1'700'000'000);
  capture.resize(capture.size() - 5);
  write_file(dir / "in.pcap", capture);
  Outcome r = badlink("replay -p " + quote((dir / "p.toml").string()) + " -i " +
                      quote((dir / "in.pcap").string()) + " -o " +
                      quote((dir / "out.pcap").string()) + " --stats-json -");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("truncated after 3 packets"), std::string::npos) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("truncated_input"), true) << r.out;
  EXPECT_EQ(record_times(read_file(dir / "out.pcap")).size(), 3U);
}

TEST(Cli, ReplayFailuresAndTheirExitStatus) {
  TempDir dir;
  write_file(dir / "p.toml", kGoodProfile);
  write_file(dir / "bad.toml", kBadProfile);
  write_file(dir / "in.pcap", ethernet_udp_capture(2, 1'700'000'000));
  const auto args = [&](const std::string& profile, const std::string& in) {
    return "replay --profile " + quote((dir / profile).string()) + " --in " +
           quote((dir / in).string()) + " --out " + quote((dir / "out.pcap").string());
  };

  Outcome r = badlink(args("p.toml", "missing.pcap"));
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("missing.pcap"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "out.pcap"));

  write_file(dir / "text.pcap", "not a capture at all, but long enough to have a header");
  EXPECT_EQ(badlink(args("p.toml", "text.pcap")).status, 1);
  EXPECT_FALSE(fs::exists(dir / "out.pcap"));

  r = badlink(args("bad.toml", "in.pcap"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("bad.toml:"), std::string::npos) << r.err;

  EXPECT_EQ(badlink(args("p.toml", "in.pcap") + " --direction sideways").status, 2);
  EXPECT_EQ(badlink(args("p.toml", "in.pcap") + " --seed -1").status, 2);
  EXPECT_EQ(badlink(args("p.toml", "in.pcap") + " --seed 12x").status, 2);
  EXPECT_EQ(badlink(args("p.toml", "in.pcap") + " extra").status, 2);
  EXPECT_FALSE(fs::exists(dir / "out.pcap"));

  EXPECT_EQ(badlink(args("p.toml", "in.pcap") + " --direction inbound").status, 0);
  EXPECT_TRUE(fs::exists(dir / "out.pcap"));
}

}  // namespace
