// JSON for the replay report, written by hand: a dozen keys do not justify a JSON library.
#include "io/stats_json.hh"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <string_view>
#include <system_error>

#include "io/json_writer.hh"
#include "io/replacement_file.hh"

namespace badlink {

void write_latency(std::string& out, int indent, const LatencyHistogram& h) {
  JsonObject d(out, indent);
  d.micros("p50", h.percentile(0.50));
  d.micros("p90", h.percentile(0.90));
  d.micros("p99", h.percentile(0.99));
  d.micros("max", h.max());
  d.micros("mean", Duration{static_cast<int64_t>(h.mean_ns() + 0.5)});
  d.close();
}

void write_direction_stats(std::string& out, int indent, const DirectionStats& s) {
  JsonObject o(out, indent);
  o.field("received", s.received);
  o.field("sent", s.sent);
  o.field("dropped_loss", s.dropped_loss);
  o.field("dropped_queue", s.dropped_queue);
  o.field("dropped_memory", s.dropped_memory);
  o.field("duplicated", s.duplicated);
  o.field("reordered", s.reordered);
  o.field("corrupted", s.corrupted);
  o.field("malformed", s.malformed);
  o.field("bytes_received", s.bytes_received);
  o.field("bytes_sent", s.bytes_sent);
  o.key("delay_us");
  write_latency(out, o.child_indent(), s.delay);
  o.close();
}

std::string stats_json(const ReplayReport& report) {
  std::string out;
  out.reserve(2048);
  JsonObject o(out);
  o.field("profile", report.profile_name);
  o.field("seed", report.seed);
  o.field("input", report.input.string());
  o.field("output", report.output.string());
  o.field("direction", to_string(report.direction));
  o.field("link_type", static_cast<uint64_t>(report.link_type));
  o.field("input_packets", report.input_packets);
  o.field("output_packets", report.output_packets);
  o.field("non_ip", report.non_ip);
  o.field("pool_exhausted", report.pool_exhausted);
  o.field("time_went_back", report.time_went_back);
  o.field("truncated_input", report.truncated_input);
  o.field("input_error", report.input_error);
  o.field("unmatched", report.unmatched);
  o.key("links");
  JsonObject links(out, o.child_indent());
  for (const LinkReport& link : report.links) {
    links.key(link.name);
    JsonObject l(out, links.child_indent());
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      l.key(to_string(d));
      write_direction_stats(out, l.child_indent(), link.directions[index_of(d)]);
    }
    l.close();
  }
  links.close();
  o.close();
  out += '\n';
  return out;
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
