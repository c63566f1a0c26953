// The timeline of a profile's schedules; see timeline.hh.
#include "profile/timeline.hh"

#include <algorithm>

namespace badlink {

Timeline::Timeline(const std::vector<Link>& links) : links_(links) {
  empty_ = std::all_of(links_.begin(), links_.end(),
                       [](const Link& l) { return l.schedule.empty(); });
}

LinkPhase Timeline::phase(size_t link, Duration t) const {
  const Link& l = links_.at(link);
  LinkPhase p;
  p.configs = l.configs();
  const Schedule& s = l.schedule;
  if (s.empty() || t.count() < 0) {
    return p;
  }
  Duration in_cycle = t;
  if (s.repeat) {
    p.cycle = static_cast<uint64_t>(t / *s.repeat);
    in_cycle = t % *s.repeat;
  }
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const ScheduleStep& step = s.steps[i];
    if (step.at > in_cycle) {
      break;
    }
    p.step = i;
    p.configs = step.configs;
    if (step.outage && in_cycle < step.at + step.outage->duration) {
      for (const Direction d : {Direction::outbound, Direction::inbound}) {
        if (step.outage->directions[index_of(d)]) {
          p.outage[index_of(d)] = step.outage->mode;
        }
      }
    }
  }
  // An outage outlasts the next step's start: it still holds until its own end.
  for (size_t i = 0; p.step && i < *p.step; ++i) {
    const ScheduleStep& step = s.steps[i];
    if (step.outage && in_cycle < step.at + step.outage->duration) {
      for (const Direction d : {Direction::outbound, Direction::inbound}) {
        if (step.outage->directions[index_of(d)] && p.outage[index_of(d)] == Outage::none) {
          p.outage[index_of(d)] = step.outage->mode;
        }
      }
    }
  }
  return p;
}

std::optional<Duration> Timeline::next_change(Duration t) const {
  std::optional<Duration> soonest;
  const auto consider = [&](Duration at) {
    if (at > t && (!soonest || at < *soonest)) {
      soonest = at;
    }
  };
  for (const Link& l : links_) {
    const Schedule& s = l.schedule;
    if (s.empty()) {
      continue;
    }
    const Duration cycle_start =
        s.repeat && t.count() >= 0 ? t - t % *s.repeat : Duration{0};
    for (const ScheduleStep& step : s.steps) {
      consider(cycle_start + step.at);
      if (step.outage) {
        consider(cycle_start + step.at + step.outage->duration);
      }
    }
    if (s.repeat) {
      consider(cycle_start + *s.repeat);
    }
  }
  return soonest;
}

}  // namespace badlink
