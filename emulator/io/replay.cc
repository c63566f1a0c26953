// The replay loop; see replay.hh. Per record: its link found, one copy into a pooled packet, no
// allocation, no logging; libpcap's buffered reads and writes on either side.
#include "io/replay.hh"

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "core/ip_headers.hh"
#include "core/packet_pool.hh"
#include "core/rng.hh"
#include "io/pcap_file.hh"
#include "io/replacement_file.hh"
#include "profile/link_matcher.hh"
#include "profile/timeline.hh"

namespace badlink {

namespace {

// How many records pass between looks at the output stream's error flag: a full disk stops the
// replay soon after, not at the end of a long capture.
constexpr uint64_t kWriteCheckInterval = 4096;

}  // namespace

ReplayReport replay(const ReplaySetup& setup) {
  ReplayReport report;
  report.profile_name = setup.profile_name;
  report.input = setup.input;
  report.output = setup.output;
  report.seed = setup.seed;
  report.direction = setup.direction;

  PcapReader reader(setup.input);
  const LinkLayer link_layer(reader.link_type());
  report.link_type = reader.link_type();

  ReplacementFile output(setup.output);
  PcapWriter writer(output.path(), reader.link_type(), reader.snaplen());

  PacketPool pool;
  const LinkMatcher matcher(setup.links);
  std::vector<DirectionConfigs> configs;
  for (const Link& link : setup.links) {
    configs.push_back(link.configs());
  }
  Engine engine(configs, setup.seed, pool);

  const auto write_out = [&](PacketList due) {
    due.consume([&](Packet* p) {
      writer.write(p->departure, p->bytes(), p->wire_length);
      ++report.output_packets;
      pool.release(p);
    });
  };

  // The schedules' timeline starts at the first packet; each change is applied at its time,
  // after everything due before it has left.
  const Timeline timeline(setup.links);
  std::optional<TimePoint> started;
  Duration applied{0};  // the timeline's time up to which changes are in force
  const auto apply_changes_until = [&](TimePoint now) {
    if (timeline.empty() || !started) {
      return;
    }
    while (const std::optional<Duration> next = timeline.next_change(applied)) {
      const TimePoint at = *started + *next;
      if (at > now) {
        break;
      }
      write_out(engine.expire(at));
      std::vector<DirectionConfigs> phases;
      std::vector<LinkPhase> outages;
      for (std::size_t i = 0; i < setup.links.size(); ++i) {
        outages.push_back(timeline.phase(i, *next));
        phases.push_back(outages.back().configs);
      }
      engine.reconfigure(phases);
      for (std::size_t i = 0; i < setup.links.size(); ++i) {
        for (const Direction d : {Direction::outbound, Direction::inbound}) {
          if (engine.outage(i, d) != outages[i].outage[index_of(d)]) {
            engine.set_outage(i, d, outages[i].outage[index_of(d)], at);
          }
        }
      }
      ++report.timeline_changes;
      applied = *next;
    }
  };

  TimePoint latest = TimePoint::min();
  while (const std::optional<PcapRecord> record = reader.next()) {
    ++report.input_packets;
    TimePoint arrival = record->timestamp;
    if (arrival < latest) {
      ++report.time_went_back;
      arrival = latest;
    }
    latest = arrival;
    if (!started) {
      started = arrival;
      engine.set_trace_epoch(arrival);  // delivery traces on the timeline's clock
      for (std::size_t i = 0; i < setup.links.size(); ++i) {
        const LinkPhase first = timeline.phase(i, Duration{0});
        for (const Direction d : {Direction::outbound, Direction::inbound}) {
          if (first.outage[index_of(d)] != Outage::none) {
            engine.set_outage(i, d, first.outage[index_of(d)], arrival);
          }
        }
      }
    }
    apply_changes_until(arrival);

    // Everything due by now leaves before this packet can, so output stays in departure order.
    write_out(engine.expire(arrival));

    const L3Location l3 = link_layer.locate(record->data);
    if (!l3.ip) {
      ++report.non_ip;
    }
    const std::optional<std::size_t> link =
        l3.ip ? matcher.classify(parse_ip(record->data.subspan(l3.offset))) : matcher.unreadable();
    if (!link) {
      ++report.unmatched;
      writer.write(arrival, record->data, record->wire_length);
      ++report.output_packets;
    } else if (Packet* p = pool.allocate(record->data.size()); p == nullptr) {
      ++report.pool_exhausted;
    } else {
      std::memcpy(p->data(), record->data.data(), record->data.size());
      p->length = static_cast<uint32_t>(record->data.size());
      p->wire_length = record->wire_length;
      if (l3.ip) {
        p->l3_offset = l3.offset;
      } else {
        p->flags |= Packet::kNotIp;  // no IP header to parse: the engine passes it on as it is
      }
      p->arrival = arrival;
      p->address.direction = setup.direction;
      p->address.link = static_cast<uint16_t>(*link);
      engine.submit(p);
    }

    if (report.input_packets % kWriteCheckInterval == 0 && writer.failed()) {
      break;  // close() below reports it
    }
  }
  report.truncated_input = reader.truncated();
  report.input_error = reader.error();

  // The capture is over: what is still queued leaves as the timeline goes on (an outage that
  // holds ends when it would), then whatever the engine still holds.
  if (started && !timeline.empty()) {
    // (Bounded: a repeating schedule never runs out of changes.)
    for (int turns = 0; engine.pending() > 0 && turns < 1'000'000; ++turns) {
      const std::optional<Duration> next = timeline.next_change(applied);
      if (!next) {
        break;
      }
      apply_changes_until(*started + *next);
    }
  }
  write_out(engine.drain());
  writer.close();
  output.commit();

  for (std::size_t i = 0; i < setup.links.size(); ++i) {
    LinkReport& r = report.links.emplace_back();
    r.name = setup.links[i].name;
    for (std::size_t d = 0; d < kDirections; ++d) {
      r.directions[d] = engine.stats(i, static_cast<Direction>(d));
    }
  }
  return report;
}

}  // namespace badlink
