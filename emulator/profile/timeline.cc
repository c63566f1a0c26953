// The timeline of a profile's schedules; see timeline.hh.
#include "profile/timeline.hh"

#include <algorithm>

namespace badlink {

namespace {

// The last row at or before `t` (nullopt: none yet).
std::optional<size_t> row_at(const ConfigTrace& trace, Duration t) {
  const auto it = std::upper_bound(trace.rows.begin(), trace.rows.end(), t,
                                   [](Duration v, const TraceRow& r) { return v < r.at; });
  if (it == trace.rows.begin()) {
    return std::nullopt;
  }
  return static_cast<size_t>(it - trace.rows.begin()) - 1;
}

}  // namespace

// A CSV trace, or a delivery trace of its own: either runs on the timeline's clock.
bool has_trace(const Link& l) {
  return std::any_of(l.traces.begin(), l.traces.end(),
                     [](const auto& t) { return t != nullptr; }) ||
         l.outbound.rate.trace || l.inbound.rate.trace;
}

Timeline::Timeline(const std::vector<Link>& links) : links_(links) {
  empty_ = std::all_of(links_.begin(), links_.end(),
                       [](const Link& l) { return l.schedule.empty() && !has_trace(l); });
}

LinkPhase Timeline::phase(size_t link, Duration t) const {
  const Link& l = links_.at(link);
  LinkPhase p;
  p.configs = l.configs();
  const Schedule& s = l.schedule;
  if ((s.empty() && !has_trace(l)) || t.count() < 0) {
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
  // The traces' rows over the step.
  for (size_t d = 0; d < kDirections; ++d) {
    if (const auto& trace = l.traces[d]) {
      p.row[d] = row_at(*trace, in_cycle);
      if (p.row[d]) {
        p.configs[d] = apply_row(p.configs[d], trace->rows[*p.row[d]]);
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
    if (s.empty() && !has_trace(l)) {
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
    for (const auto& trace : l.traces) {
      if (trace) {
        const Duration in_cycle = t - cycle_start;
        const auto it = std::upper_bound(trace->rows.begin(), trace->rows.end(), in_cycle,
                                         [](Duration v, const TraceRow& r) { return v < r.at; });
        if (it != trace->rows.end()) {
          consider(cycle_start + it->at);
        }
      }
    }
    if (s.repeat) {
      consider(cycle_start + *s.repeat);
    }
  }
  return soonest;
}

std::vector<DirectionConfigs> phases_of(const Link& link) {
  std::vector<DirectionConfigs> all{link.configs()};
  for (const ScheduleStep& step : link.schedule.steps) {
    all.push_back(step.configs);
  }
  for (size_t d = 0; d < kDirections; ++d) {
    if (const auto& trace = link.traces[d]) {
      for (const TraceRow& row : trace->rows) {
        DirectionConfigs c = link.configs();
        c[d] = apply_row(c[d], row);
        all.push_back(c);
      }
    }
  }
  return all;
}

}  // namespace badlink
