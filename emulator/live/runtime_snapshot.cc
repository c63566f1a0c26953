// RuntimeSnapshot as JSON and as the periodic log line; see runtime_snapshot.hh.
#include "live/runtime_snapshot.hh"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "io/json_text.hh"
#include "io/stats_json.hh"

namespace badlink {

namespace {

double millis(Duration d) { return static_cast<double>(d.count()) / 1e6; }

}  // namespace

DirectionStats RuntimeSnapshot::total(Direction d) const {
  DirectionStats t;
  for (const LinkSnapshot& l : links) {
    const DirectionStats& s = l.directions[index_of(d)];
    t.received += s.received;
    t.sent += s.sent;
    t.dropped_loss += s.dropped_loss;
    t.dropped_queue += s.dropped_queue;
    t.dropped_memory += s.dropped_memory;
    t.dropped_outage += s.dropped_outage;
    t.duplicated += s.duplicated;
    t.reordered += s.reordered;
    t.corrupted += s.corrupted;
    t.malformed += s.malformed;
    t.non_ip += s.non_ip;
    t.bytes_received += s.bytes_received;
    t.bytes_sent += s.bytes_sent;
    t.delay.merge(s.delay);
  }
  return t;
}

std::string snapshot_json(const RuntimeSnapshot& s, std::optional<uint64_t> heap_allocations,
                          uint64_t json_allocations, bool delay_buckets) {
  const DiversionReport& v = s.diversion;
  nlohmann::ordered_json o;
  o["profile"] = s.profile;
  o["seed"] = s.seed;
  o["mode"] = v.mode;
  o["wan"] = v.wan;
  o["rules"] = v.rules;
  {
    nlohmann::ordered_json& j = o["queues"];
    j = nlohmann::ordered_json::array();
    for (const DivertPort& p : v.ports) {
      std::string link;
      for (const LinkSnapshot& l : s.links) {
        if (l.slot == p.slot) {
          link = l.name;
        }
      }
      nlohmann::ordered_json carries = nlohmann::ordered_json::array();
      for (const Direction d : {Direction::outbound, Direction::inbound}) {
        if (p.carries[index_of(d)]) {
          carries.push_back(std::string(to_string(d)));
        }
      }
      j.push_back({{"queue", uint64_t{p.queue}}, {"link", link}, {"carries", carries}});
    }
  }
  // Which directions the rules queue now ("diverted" is the backend's count of packets).
  o["diverting"] = {{"outbound", v.diverting[index_of(Direction::outbound)]},
                    {"inbound", v.diverting[index_of(Direction::inbound)]}};
  o["uptime_s"] = json_seconds(s.uptime_s);
  // Every link together, then each on its own.
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    o[std::string(to_string(d))] = direction_stats_json(s.total(d));
  }
  {
    nlohmann::ordered_json& j = o["links"];
    j = nlohmann::ordered_json::object();
    for (const LinkSnapshot& l : s.links) {
      for (const Direction d : {Direction::outbound, Direction::inbound}) {
        nlohmann::ordered_json& dj = j[l.name][std::string(to_string(d))];
        dj = direction_stats_json(l.directions[index_of(d)]);
        if (delay_buckets) {
          dj["delay_buckets"] = l.directions[index_of(d)].delay.buckets();
        }
        dj["queued_packets"] = uint64_t{l.queued_packets[index_of(d)]};
        dj["queued_bytes"] = l.queued_bytes[index_of(d)];
        const Outage down = l.outage[index_of(d)];
        dj["outage"] = down == Outage::none ? "none" : down == Outage::hold ? "hold" : "drop";
      }
    }
  }
  if (s.timeline_started_unix_ns) {
    // The schedules' timeline: its start as Unix time, and each link's step (null: its own
    // directions; steps count from 0 in file order).
    nlohmann::ordered_json& j = o["timeline"];
    j["started_unix_ns"] = *s.timeline_started_unix_ns;
    j["paused"] = s.timeline_paused;
    j["elapsed_ns"] = s.timeline_elapsed_ns;
    // Each direction's traces: the CSV row in force and the delivery trace's position.
    const auto or_null = [](const auto& value) {
      return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
    };
    for (const LinkSnapshot& l : s.links) {
      nlohmann::ordered_json& lj = j["links"][l.name];
      lj = {{"step",
             l.step ? nlohmann::ordered_json(uint64_t{*l.step}) : nlohmann::ordered_json(nullptr)},
            {"cycle", l.cycle}};
      for (const Direction d : {Direction::outbound, Direction::inbound}) {
        lj[std::string(to_string(d))] = {
            {"row", or_null(l.row[index_of(d)])},
            {"trace_position_ms", or_null(l.trace_position_ms[index_of(d)])}};
      }
    }
  }
  {
    const BackendStats& b = s.backend;
    nlohmann::ordered_json& j = o["backend"];
    j["received"] = b.received;
    j["diverted"] = b.diverted;
    j["passed_malformed"] = b.passed_malformed;
    j["passed_truncated"] = b.passed_truncated;
    j["passed_no_buffer"] = b.passed_no_buffer;
    j["passed_busy"] = b.passed_busy;
    j["passed_through"] = b.passed_through;
    j["passed_unclassified"] = b.passed_unclassified;
    j["reinjected"] = b.reinjected;
    j["resent"] = b.resent;
    j["consumed"] = b.consumed;
    j["resend_failed"] = b.resend_failed;
    j["verdict_failed"] = b.verdict_failed;
    j["receive_overruns"] = b.receive_overruns;
    j["receive_errors"] = b.receive_errors;
    j["held"] = b.held;
    j["kernel_stamped"] = b.kernel_stamped;
    j["gso_super_packets"] = b.gso_super_packets;
    j["segments_resent"] = b.segments_resent;
    j["resend_path_samples"] = s.send_path.count();
    j["resend_path_us"] = latency_json(s.send_path);
  }
  {
    nlohmann::ordered_json& j = o["kernel"];
    j["queue_dropped"] = v.kernel_queue_dropped;
    j["user_dropped"] = v.kernel_user_dropped;
    for (const DiversionReport::Queue& k : v.kernel) {
      j["queue_" + std::to_string(k.queue)] = {{"queue_total", k.total},
                                               {"queue_dropped", k.queue_dropped},
                                               {"user_dropped", k.user_dropped},
                                               {"id_sequence", k.id_sequence}};
    }
  }
  {
    const LiveStats& l = s.loop;
    nlohmann::ordered_json& j = o["loop"];
    j["wakeups"] = l.wakeups;
    j["timer_wakeups"] = l.timer_wakeups;
    j["spins"] = l.spins;
    j["spin_ns"] = l.spin_ns;
    j["spin_limited"] = l.spin_limited;
    j["linger_ns"] = l.linger_ns;
    j["early_wake_ns"] = static_cast<uint64_t>(l.early_wake.count());
    j["send_lead_ns"] = static_cast<uint64_t>(l.send_lead.count());
    j["wake_cost_ns"] = static_cast<uint64_t>(l.wake_cost.count());
    j["estimated_arrivals"] = l.estimated_arrivals;
    j["unwatched_waits"] = l.unwatched_waits;
    j["armed_ahead"] = l.armed_ahead;
    j["nice"] = int64_t{l.nice};
    j["floods"] = l.floods;
    j["late_raises"] = l.late_raises;
    j["nice_changes"] = l.nice_changes;
    j["all_copies_dropped"] = l.dropped_copies;
    j["lateness_us"] = latency_json(l.lateness);
    j["read_latency_us"] = latency_json(l.read_latency);
    j["timer_lateness_us"] = latency_json(l.timer_lateness);
    j["wake_latency_us"] = latency_json(l.wake_latency);
  }
  {
    nlohmann::ordered_json& j = o["pool"];
    j["in_use"] = uint64_t{s.pool_in_use};
    j["bytes_reserved"] = uint64_t{s.pool_bytes};
    j["chunk_allocations"] = uint64_t{s.pool_chunks};
    if (heap_allocations) {
      j["heap_allocations"] = *heap_allocations;
      j["json_allocations"] = json_allocations;
    }
  }
  return json_text(o);
}

std::string snapshot_line(const RuntimeSnapshot& s) {
  std::string line;
  const auto direction_text = [](Direction d, const DirectionStats& t) {
    return fmt::format(
        "{}: {} in, {} out, {} lost, {} queue drops, {} dup, delay p50 {:.2f} ms p99 {:.2f} ms",
        to_string(d), t.received, t.sent, t.dropped_loss, t.dropped_queue, t.duplicated,
        millis(t.delay.percentile(0.5)), millis(t.delay.percentile(0.99)));
  };
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    line += direction_text(d, s.total(d)) + " | ";
  }
  if (s.links.size() > 1) {
    for (const LinkSnapshot& l : s.links) {
      line += "link " + l.name + ": ";
      for (const Direction d : {Direction::outbound, Direction::inbound}) {
        const DirectionStats& t = l.directions[index_of(d)];
        line += fmt::format("{} {}/{} p50 {:.2f} ms; ", to_string(d), t.received, t.sent,
                            millis(t.delay.percentile(0.5)));
      }
      line += "| ";
    }
  }
  const BackendStats& b = s.backend;
  line += fmt::format(
      "held {}, passed unimpaired {}, resend failures {}, overruns {}, kernel drops {}+{}, "
      "late p99 {:.3f} ms",
      b.held,
      b.passed_malformed + b.passed_truncated + b.passed_no_buffer + b.passed_busy +
          b.passed_unclassified,
      b.resend_failed, b.receive_overruns, s.diversion.kernel_queue_dropped,
      s.diversion.kernel_user_dropped, millis(s.loop.lateness.percentile(0.99)));
  return line;
}

}  // namespace badlink
