// A badlink profile: TOML text turned into validated plain structs, with every error carrying
// FILE:LINE:COL. Nothing here touches the OS beyond reading the file.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/packet.hh"  // Direction
#include "impairments/config.hh"
#include "profile/trace.hh"

namespace badlink {

enum class Protocol : uint8_t { all, tcp, udp, icmp };
std::string_view to_string(Protocol p);  // as a profile spells it: "tcp", "udp", "icmp", "all"

struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;

  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct Cidr {
  int family = 4;                     // 4 or 6
  std::array<uint8_t, 16> address{};  // network byte order; IPv4 uses the first 4 bytes
  uint8_t prefix_length = 0;
  std::string text;  // as normalised for display and for firewall rules, e.g. "192.0.2.0/24"

  friend bool operator==(const Cidr&, const Cidr&) = default;
};

// Which packets the live mode diverts; empty lists mean "any".
struct Match {
  Protocol protocol = Protocol::all;
  std::vector<PortRange> ports;  // either endpoint
  std::vector<Cidr> hosts;       // either endpoint
  std::string interface;         // empty: any interface

  friend bool operator==(const Match&, const Match&) = default;
};

// Where something was written in a profile, for messages; 0 when it was not written at all.
struct SourcePosition {
  uint32_t line = 0;
  uint32_t column = 0;
};

// The link a profile in the classic form (top-level [match], [outbound], [inbound]) has.
inline constexpr std::string_view kDefaultLinkName = "default";

// An outage a schedule's step starts.
struct OutageStep {
  Duration duration{};
  Outage mode = Outage::drop;  // drop or hold
  std::array<bool, kDirections> directions{true, true};
};

// One step of a link's schedule: from `at` (after the timeline's start) a direction the step
// names keys of is the link's own with those keys over them; one it does not name stays as the
// step before left it. An outage may start with it.
struct ScheduleStep {
  Duration at{};
  DirectionConfigs configs{};                  // in force from `at`
  std::array<std::string, kDirections> named;  // the step's own keys, as an inline TOML table
                                               // ("" when it names none of that direction)
  std::optional<OutageStep> outage;
  SourcePosition position;
};

struct Schedule {
  std::vector<ScheduleStep> steps;  // strictly increasing `at`
  std::optional<Duration> repeat;   // the steps start again every `repeat`; else the last holds

  bool empty() const { return steps.empty(); }
};

// One kind of traffic and what happens to it: a match and its two directions.
struct Link {
  std::string name;          // [a-z0-9_-]+, unique in its profile
  Match match;               // empty: every packet
  DirectionConfig outbound;  // a missing section is a pass-through direction
  DirectionConfig inbound;
  bool has_outbound = false;
  bool has_inbound = false;
  SourcePosition position;  // its [[link]] header, or the first classic section
  Schedule schedule;        // how its directions change over time (none: they do not)
  // A CSV trace per direction (`trace = "FILE.csv"`): its rows over the schedule, on the same
  // clock (profile/timeline.hh). Shared: steps and reloads copy links.
  std::array<std::shared_ptr<const ConfigTrace>, kDirections> traces{};

  const DirectionConfig& direction(Direction d) const {
    return d == Direction::outbound ? outbound : inbound;
  }
  DirectionConfigs configs() const { return {outbound, inbound}; }
};

struct Profile {
  std::string name;
  std::string description;
  std::optional<uint64_t> seed;
  // At least one, in file order: a packet belongs to the first whose match takes it, as with
  // firewall rules. No link is shadowed completely by an earlier one.
  std::vector<Link> links;
  std::string source;  // the file it came from, for messages

  // The link called `name`; throws std::out_of_range when there is none.
  const Link& link(std::string_view name) const;
  // The only link, for what applies one link (badlink run, verify); throws std::logic_error
  // when there are several (callers refuse such a profile first).
  const Link& single_link() const;
};

struct Diagnostic {
  std::string file;
  uint32_t line = 0;  // 1-based; 0 when the error has no position (missing file)
  uint32_t column = 0;
  std::string message;

  // "FILE:LINE:COL: message", or "FILE: message" without a position.
  std::string to_string() const;
};

// Every problem found in one profile, in source order; what() joins them with newlines.
class ProfileError : public std::runtime_error {
 public:
  explicit ProfileError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// Parse and validate completely; throws ProfileError listing every problem. Nothing partial is
// ever returned.
// Trace files a profile names are relative to the directory of `source_name` when that is a
// file, else to the current directory (standard input, a request), or to `trace_dir`.
Profile parse_profile(std::string_view toml_text, std::string_view source_name);
Profile parse_profile(std::string_view toml_text, std::string_view source_name,
                      const std::filesystem::path& trace_dir);
std::filesystem::path trace_directory_of(std::string_view source);
Profile load_profile(const std::filesystem::path& file);

// The effective profile with every default filled in, as TOML that parse_profile() accepts
// and that yields the same Profile again.
std::string render_profile(const Profile& profile);

}  // namespace badlink
