// A small JSON object writer, by hand: a few dozen keys do not justify a JSON library. Used by
// the replay report and by `badlink run`'s --stats-json, so both print the same way.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "core/time.hh"

namespace badlink {

// A JSON string literal, with quotes, control characters and non-ASCII bytes kept valid: bytes
// >= 0x80 pass through (paths and names are UTF-8 on the systems we run on).
inline void append_string(std::string& out, std::string_view text) {
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

inline void append_uint(std::string& out, uint64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, result.ptr);
}

// Nanoseconds as microseconds with three decimals, exactly (no floating point on the way).
inline void append_micros(std::string& out, int64_t nanos) {
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

class JsonObject {
 public:
  JsonObject(std::string& out, int indent = 0) : out_(out), indent_(indent) { out_ += '{'; }

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
  void field(std::string_view name, int64_t value) {
    key(name);
    if (value < 0) {
      out_ += '-';
    }
    append_uint(out_, value < 0 ? uint64_t{0} - static_cast<uint64_t>(value)
                                : static_cast<uint64_t>(value));
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
  void seconds(std::string_view name, double value) {
    key(name);
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", value);
    out_ += text;
  }
  int indent() const { return indent_; }
  // Where an object nested under the last key() starts.
  int child_indent() const { return indent_ + 2; }

 private:
  std::string& out_;
  int indent_;
  bool first_ = true;
};

}  // namespace badlink
