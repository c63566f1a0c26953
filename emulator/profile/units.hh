// The units a profile is written in (durations, probabilities, rates, sizes): parsed exactly
// from text and printed back so that parsing the printed text gives the same value.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/time.hh"

namespace badlink {

// A value that does not parse. The message describes the value ("\"10mbps\" is ambiguous: ...")
// and what is accepted, but not where it came from: the caller prefixes the key and position.
class UnitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "40ms", "1.5s", "250us" (also "µs"), "100ns", "0ms"; tc's "msec", "sec", ... too. Decimal
// fractions are exact and rounded to the nearest nanosecond. A bare number, a negative value or
// an unknown unit throws UnitError.
Duration parse_duration(std::string_view text);

// "2.5%" -> 0.025, within 0%..100%. The result is the double nearest to the exact decimal
// quotient, so format_percentage() round-trips.
double parse_percentage(std::string_view text);

// Returns value when it is a probability (0..1); otherwise throws UnitError, with a hint
// 'did you mean "2%"?' for values in (1, 100].
double check_probability(double value);

// Bits per second, > 0. Bits: "bit", "kbit", "mbit", "gbit", "tbit" (1000-based, any case, an
// optional "/s") and "kibit", "mibit", "gibit", "tibit" (1024-based), as tc. Bytes: "B/s",
// "kB/s" (or "KB/s"), "MB/s", "GB/s", "TB/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s". The ambiguous
// "bps", "kbps", "mbps", ... are rejected with both readings spelled out.
uint64_t parse_rate(std::string_view text);

// Bytes, > 0: "B", "KB" (or "kB"), "MB", "GB" (1000-based) and "KiB", "MiB", "GiB" (1024-based).
uint64_t parse_size(std::string_view text);

// Inverses of the parsers, in the most readable unit that keeps the value exact:
// 40ms -> "40ms", 1.5s -> "1.5s", 0 -> "0ms".
std::string format_duration(Duration d);
// 0.025 -> "2.5%"; parse_percentage(format_percentage(p)) == p for every p in 0..1.
std::string format_percentage(double p);
// 10'000'000 -> "10mbit", 1'048'576 -> "1mibit", 1'500'000 -> "1.5mbit".
std::string format_rate(uint64_t bits_per_second);
// 64'000 -> "64KB", 65'536 -> "64KiB", 100 -> "100B".
std::string format_size(uint64_t bytes);

// Shortest text that reads back as the same double, e.g. 2.0 -> "2", 0.25 -> "0.25".
std::string format_number(double value);
// 80000000 -> "80,000,000", for messages.
std::string group_thousands(uint64_t value);

}  // namespace badlink
