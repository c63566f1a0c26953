// Offline replay: a capture goes through the engine as if it arrived at its capture times,
// and what survives is written at its departure times, in departure order.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/packet.hh"
#include "engine/engine.hh"
#include "engine/pipeline.hh"
#include "profile/profile.hh"

namespace badlink {

struct ReplaySetup {
  std::filesystem::path input;
  std::filesystem::path output;
  // The profile's links, in its order: each packet goes to the first whose match takes it
  // (profile/link_matcher.hh) and through that link's own engine, seeded with
  // link_seed(seed, index); a packet no link takes passes unimpaired at its arrival.
  std::vector<Link> links;
  uint64_t seed = 0;
  Direction direction = Direction::outbound;  // every packet of the capture goes this way
  std::string profile_name;                   // carried into the report
};

// One link's engine counters. `malformed` counts IP packets whose headers lie; non-IP frames,
// which the engine also passes on untouched, are in ReplayReport::non_ip instead.
struct LinkReport {
  std::string name;
  std::array<DirectionStats, kDirections> directions{};
};

struct ReplayReport {
  std::string profile_name;
  std::filesystem::path input;
  std::filesystem::path output;
  uint64_t seed = 0;
  Direction direction = Direction::outbound;
  int link_type = 0;  // a DLT_ value, the same in output as in input

  uint64_t input_packets = 0;   // records read
  uint64_t output_packets = 0;  // records written
  uint64_t non_ip = 0;  // frames carrying no IP (ARP, LLDP, ...): passed on unimpaired at arrival
  uint64_t pool_exhausted = 0;  // records dropped for want of a packet buffer (too long to hold)
  uint64_t timeline_changes = 0;  // schedule steps and outage ends applied (from the first packet)
  uint64_t time_went_back = 0;  // records stamped earlier than the one before: taken as arriving
                                // with it, so that departures stay in order

  // The file ended mid-record (or held a record libpcap refused): reading stopped there, and
  // everything before it was replayed and written. `input_error` is libpcap's account.
  bool truncated_input = false;
  std::string input_error;

  std::vector<LinkReport> links;  // as ReplaySetup::links
  uint64_t unmatched = 0;         // packets no link took, passed on unimpaired at arrival (non-IP
                                  // frames among them when no link takes every packet)
};

// Replays setup.input into setup.output (written beside it under a temporary name and renamed
// when complete). Throws PcapError or std::system_error when the input cannot be opened, its
// link type is unsupported, or the output cannot be written; setup.output is then untouched.
// A truncated input is not an error: see ReplayReport::truncated_input.
ReplayReport replay(const ReplaySetup& setup);

}  // namespace badlink
