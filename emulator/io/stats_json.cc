// The replay report as JSON (nlohmann), in the layout json_text() prints.
#include "io/stats_json.hh"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <system_error>

#include "io/json_text.hh"
#include "io/replacement_file.hh"

namespace badlink {

nlohmann::ordered_json latency_json(const LatencyHistogram& h) {
  nlohmann::ordered_json d;
  d["p50"] = json_micros(h.percentile(0.50));
  d["p90"] = json_micros(h.percentile(0.90));
  d["p99"] = json_micros(h.percentile(0.99));
  d["max"] = json_micros(h.max());
  d["mean"] = json_micros(Duration{static_cast<int64_t>(h.mean_ns() + 0.5)});
  return d;
}

nlohmann::ordered_json direction_stats_json(const DirectionStats& s) {
  nlohmann::ordered_json o;
  o["received"] = s.received;
  o["sent"] = s.sent;
  o["dropped_loss"] = s.dropped_loss;
  o["dropped_queue"] = s.dropped_queue;
  o["dropped_outage"] = s.dropped_outage;
  o["dropped_memory"] = s.dropped_memory;
  o["duplicated"] = s.duplicated;
  o["reordered"] = s.reordered;
  o["corrupted"] = s.corrupted;
  o["malformed"] = s.malformed;
  o["bytes_received"] = s.bytes_received;
  o["bytes_sent"] = s.bytes_sent;
  o["delay_us"] = latency_json(s.delay);
  return o;
}

std::string stats_json(const ReplayReport& report) {
  nlohmann::ordered_json o;
  o["profile"] = report.profile_name;
  o["seed"] = report.seed;
  o["input"] = report.input.string();
  o["output"] = report.output.string();
  o["direction"] = to_string(report.direction);
  o["link_type"] = static_cast<uint64_t>(report.link_type);
  o["input_packets"] = report.input_packets;
  o["output_packets"] = report.output_packets;
  o["non_ip"] = report.non_ip;
  o["pool_exhausted"] = report.pool_exhausted;
  o["time_went_back"] = report.time_went_back;
  o["timeline_changes"] = report.timeline_changes;
  o["truncated_input"] = report.truncated_input;
  o["input_error"] = report.input_error;
  o["unmatched"] = report.unmatched;
  nlohmann::ordered_json& links = o["links"] = nlohmann::ordered_json::object();
  for (const LinkReport& link : report.links) {
    nlohmann::ordered_json& l = links[link.name];
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      l[std::string(to_string(d))] = direction_stats_json(link.directions[index_of(d)]);
    }
  }
  return json_text(o);
}

void write_stats_json(const std::filesystem::path& file, const ReplayReport& report) {
  const std::string text = stats_json(report);
  ReplacementFile replacement(file);
  const int fd = ::open(replacement.path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "open(" + replacement.path().string() + ")");
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      throw std::system_error(error, std::generic_category(),
                              "write(" + replacement.path().string() + ")");
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "close(" + replacement.path().string() + ")");
  }
  replacement.commit();
}

}  // namespace badlink
