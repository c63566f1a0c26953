// JSON for the replay report, written by hand: a dozen keys do not justify a JSON library.
#include "io/stats_json.hh"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <string_view>
#include <system_error>

#include "io/replacement_file.hh"

namespace badlink {

namespace {

// A JSON string literal, with quotes, control characters and non-ASCII bytes kept valid: bytes
// >= 0x80 pass through (paths and names are UTF-8 on the systems we run on).
void append_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_uint(std::string& out, uint64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

// Nanoseconds as microseconds with three decimals, exactly (no floating point on the way).
void append_micros(std::string& out, int64_t nanos) {
  if (nanos < 0) {
    out += '-';
    nanos = -nanos;
  }
  const auto ns = static_cast<uint64_t>(nanos);
  append_uint(out, ns / 1000);
  char fraction[5];
  std::snprintf(fraction, sizeof fraction, ".%03u", static_cast<unsigned>(ns % 1000));
  out += fraction;
}

class ObjectWriter {
 public:
  ObjectWriter(std::string& out, int indent) : out_(out), indent_(indent) { out_ += '{'; }

  void key(std::string_view name) {
    out_ += first_ ? "\n" : ",\n";
    first_ = false;
    out_.append(static_cast<size_t>(indent_ + 2), ' ');
    append_string(out_, name);
    out_ += ": ";
  }
  void field(std::string_view name, uint64_t value) {
    key(name);
    append_uint(out_, value);
  }
  void field(std::string_view name, bool value) {
    key(name);
    out_ += value ? "true" : "false";
  }
  void field(std::string_view name, std::string_view value) {
    key(name);
    append_string(out_, value);
  }
  void micros(std::string_view name, Duration value) {
    key(name);
    append_micros(out_, value.count());
  }
  void close() {
    if (!first_) {
      out_ += '\n';
      out_.append(static_cast<size_t>(indent_), ' ');
    }
    out_ += '}';
  }
  int indent() const { return indent_; }

 private:
  std::string& out_;
  int indent_;
  bool first_ = true;
};

void append_direction(std::string& out, int indent, const DirectionStats& s) {
  ObjectWriter o(out, indent);
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
  {
    ObjectWriter d(out, indent + 2);
    d.micros("p50", s.delay.percentile(0.50));
    d.micros("p90", s.delay.percentile(0.90));
    d.micros("p99", s.delay.percentile(0.99));
    d.micros("max", s.delay.max());
    d.micros("mean", Duration{static_cast<int64_t>(s.delay.mean_ns() + 0.5)});
    d.close();
  }
  o.close();
}

}  // namespace

std::string stats_json(const ReplayReport& report) {
  std::string out;
  out.reserve(2048);
  ObjectWriter o(out, 0);
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
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    o.key(to_string(d));
    append_direction(out, o.indent() + 2, report.directions[index_of(d)]);
  }
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
