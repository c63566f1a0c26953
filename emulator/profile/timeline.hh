// A profile's schedules as a timeline: what each link's directions are at any moment after the
// timeline's start, and when that next changes. Pure: replay runs it on capture time, the live
// runtime on its clock.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <vector>

#include "core/time.hh"
#include "impairments/config.hh"
#include "profile/profile.hh"

namespace badlink {

// What a link's schedule says at one moment.
struct LinkPhase {
  DirectionConfigs configs{};
  std::array<Outage, kDirections> outage{Outage::none, Outage::none};
  std::optional<size_t> step;  // the step in force (nullopt: the link's own directions)
  uint64_t cycle = 0;          // how many times the steps have started again (repeat)
  // Each direction's CSV trace row in force over the step (nullopt: none yet, or no trace).
  std::array<std::optional<size_t>, kDirections> row{};

  friend bool operator==(const LinkPhase&, const LinkPhase&) = default;
};

class Timeline {
 public:
  explicit Timeline(const std::vector<Link>& links);

  // No link has a schedule or a trace: nothing ever changes, and nothing needs the clock.
  bool empty() const { return empty_; }

  // Link `link`'s phase `t` after the start.
  LinkPhase phase(size_t link, Duration t) const;

  // The first moment after `t` at which some link's phase changes; nullopt: never again.
  std::optional<Duration> next_change(Duration t) const;

 private:
  std::vector<Link> links_;
  bool empty_ = true;
};

// Whether a link follows a trace of its own: a CSV trace, or a delivery trace in its own
// directions (either runs on the timeline's clock).
bool has_trace(const Link& link);

// Every set of directions a link may have over its timeline: its own, each step's, and each
// trace row's over its own (what the diversion must be ready for).
std::vector<DirectionConfigs> phases_of(const Link& link);

}  // namespace badlink
