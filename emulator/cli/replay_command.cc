// `badlink replay`: a capture through a profile, offline, with the outcome logged and,
// on request, written as JSON.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <iostream>
#include <random>
#include <sstream>

#include "cli/command.hh"
#include "io/pcap_file.hh"
#include "io/replay.hh"
#include "io/stats_json.hh"
#include "profile/profile.hh"

namespace po = boost::program_options;

namespace badlink::cli {

namespace {

po::options_description replay_options() {
  po::options_description options("Replay options");
  // clang-format off
  options.add_options()
      ("profile,p", po::value<std::string>()->required()->value_name("PROFILE"),
       "the profile to apply")
      ("in,i", po::value<std::string>()->required()->value_name("IN.pcap"),
       "the capture to replay: Ethernet, raw IP, Linux cooked or BSD loopback")
      ("out,o", po::value<std::string>()->required()->value_name("OUT.pcap"),
       "where the impaired capture goes (nanosecond pcap, same link type)")
      ("direction,d", po::value<std::string>()->default_value("outbound")->value_name("DIR"),
       "outbound or inbound: which of the profile's directions the packets take")
      ("seed,s", po::value<std::string>()->value_name("N"),
       "seed for the random choices (overrides the profile's)")
      ("stats-json", po::value<std::string>()->value_name("FILE"),
       "write counters and delay percentiles as JSON (\"-\": standard output)");
  // clang-format on
  return options;
}

Direction parse_direction(const std::string& text) {
  if (text == "outbound") {
    return Direction::outbound;
  }
  if (text == "inbound") {
    return Direction::inbound;
  }
  throw UsageError("--direction must be outbound or inbound, not '" + text + "'");
}

uint64_t parse_seed(const std::string& text) {
  uint64_t seed = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, seed);
  if (text.empty() || ec != std::errc{} || ptr != end) {
    throw UsageError("--seed must be an integer from 0 to 18446744073709551615, not '" + text +
                     "'");
  }
  return seed;
}

uint64_t random_seed() {
  std::random_device device;
  return (uint64_t{device()} << 32) | device();
}

double millis(Duration d) { return static_cast<double>(d.count()) / 1e6; }

void log_link(const ReplayReport& r, const LinkReport& link) {
  const DirectionStats& s = link.directions[index_of(r.direction)];
  if (s.malformed > 0) {
    spdlog::warn("{}: {} packets with malformed IP headers passed on unchanged", r.input.string(),
                 s.malformed);
  }
  if (s.dropped_memory > 0) {
    spdlog::warn("{} duplicates not made for want of a packet buffer", s.dropped_memory);
  }
  spdlog::info(
      "link '{}': {} packets in, {} out ({}): {} lost, {} queue drops, {} duplicated, "
      "{} reordered, {} corrupted; delay p50 {:.3f} ms, p99 {:.3f} ms, max {:.3f} ms",
      link.name, s.received, s.sent, to_string(r.direction), s.dropped_loss, s.dropped_queue,
      s.duplicated, s.reordered, s.corrupted, millis(s.delay.percentile(0.5)),
      millis(s.delay.percentile(0.99)), millis(s.delay.max()));
}

void log_outcome(const ReplayReport& r) {
  const std::string input = r.input.string();
  if (r.truncated_input) {
    spdlog::warn("{}: truncated after {} packets ({}); the packets before it were replayed", input,
                 r.input_packets, r.input_error);
  }
  if (r.non_ip > 0) {
    spdlog::info("{}: {} non-IP frames passed on unimpaired", input, r.non_ip);
  }
  if (r.pool_exhausted > 0) {
    spdlog::warn("{}: {} packets dropped for want of a packet buffer", input, r.pool_exhausted);
  }
  if (r.time_went_back > 0) {
    spdlog::warn(
        "{}: {} packets were stamped earlier than the packet before them; replayed as "
        "arriving with it",
        input, r.time_went_back);
  }
  for (const LinkReport& link : r.links) {
    log_link(r, link);
  }
  spdlog::info("{} packets in, {} out; {} taken by no link passed on unimpaired", r.input_packets,
               r.output_packets, r.unmatched);
}

}  // namespace

std::string replay_help() {
  std::ostringstream out;
  out << "Usage: badlink replay --profile PROFILE --in IN.pcap --out OUT.pcap\n"
         "                      [--direction outbound|inbound] [--seed N] [--stats-json FILE]\n"
         "\n"
         "Sends a capture through the profile's impairments offline. Each packet arrives at its\n"
         "capture time; OUT.pcap holds the packets that survive (duplicates and corruption\n"
         "included) stamped with their departure times, in departure order. Frames that carry\n"
         "no IP (ARP, ...) and packets whose IP headers lie about their lengths pass on\n"
         "unchanged at their arrival time, and are counted.\n"
         "\n"
         "Each packet goes to the first of the profile's links whose match takes it, as in\n"
         "`badlink run` (a capture does not say the interface: a link's interface is taken to\n"
         "be the capture's); a packet no link takes passes unimpaired and is counted as\n"
         "\"unmatched\". A frame without a readable IP header goes to the first link with no\n"
         "match at all, if there is one. Each link has its own queue, state and counters.\n"
         "\n"
         "The seed is --seed, else the profile's, else a random one; the seed used is logged.\n"
         "The first link draws from the seed itself, each later link from a seed derived from\n"
         "it and the link's place in the file, so a link's draws do not depend on the others'.\n"
         "OUT.pcap is written under a temporary name and renamed when complete: after a\n"
         "failure it is left as it was.\n"
         "\n"
      << replay_options()
      << "\n"
         "A capture cut off mid-record is replayed up to the cut: a warning says after how many\n"
         "packets it ends, the stats JSON says \"truncated_input\": true, and the exit status\n"
         "is still 0.\n"
         "\n"
         "Exit status: 0 ok, 1 runtime failure (unreadable or unsupported capture, output not\n"
         "writable), 2 bad usage or invalid profile.\n";
  return out.str();
}

int replay_main(const std::vector<std::string>& args) {
  const po::options_description options = replay_options();
  const po::variables_map vm = parse_command_line(args, options);

  // Usage first, then the profile: a wrong flag is reported before a wrong profile.
  ReplaySetup setup;
  setup.input = vm["in"].as<std::string>();
  setup.output = vm["out"].as<std::string>();
  setup.direction = parse_direction(vm["direction"].as<std::string>());
  const bool seed_given = vm.count("seed") != 0;
  const uint64_t seed_option = seed_given ? parse_seed(vm["seed"].as<std::string>()) : 0;

  const Profile profile = load_profile(vm["profile"].as<std::string>());
  setup.links = profile.links;
  setup.profile_name = profile.name;

  if (seed_given) {
    setup.seed = seed_option;
    spdlog::info("seed {} (from --seed)", setup.seed);
  } else if (profile.seed) {
    setup.seed = *profile.seed;
    spdlog::info("seed {} (from the profile)", setup.seed);
  } else {
    setup.seed = random_seed();
    spdlog::info("seed {} (use --seed {} to repeat)", setup.seed, setup.seed);
  }
  if (std::all_of(profile.links.begin(), profile.links.end(), [&setup](const Link& link) {
        return link.direction(setup.direction).is_passthrough();
      })) {
    spdlog::warn("profile '{}' does not impair {} packets; is --direction right?", profile.name,
                 to_string(setup.direction));
  }

  const ReplayReport report = replay(setup);
  spdlog::debug("{}: link type {}, {} records; seed {}", report.input.string(),
                LinkLayer(report.link_type).name(), report.input_packets, report.seed);
  log_outcome(report);

  if (vm.count("stats-json") != 0) {
    const std::string file = vm["stats-json"].as<std::string>();
    if (file == "-") {
      std::cout << stats_json(report) << std::flush;
    } else {
      write_stats_json(file, report);
    }
  }
  return kExitOk;
}

}  // namespace badlink::cli
