// Exact decimal parsing and printing of profile units; no floating point where the result is
// an integer, so "1.1s" is exactly 1'100'000'000 ns.
#include "profile/units.hh"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <system_error>

namespace badlink {
namespace {

__extension__ typedef unsigned __int128 U128;

constexpr std::size_t kMaxDigits = 24;  // keeps digits * factor and 10^fraction inside U128

// A decimal number as written: value = digits * 10^exponent, digits without leading or
// trailing zeros (empty for zero).
struct Decimal {
  std::string digits;
  int exponent = 0;
  bool negative = false;
};

struct NumberAndUnit {
  Decimal number;
  std::string_view unit;
};

std::string in_quotes(std::string_view text) {
  std::string out;  // not "\"" + std::string(...): GCC 12 -O3 warns falsely (-Wrestrict)
  out.reserve(text.size() + 2);
  out += '"';
  out += text;
  out += '"';
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) {
      return false;
    }
  }
  return true;
}

// Splits "1.5 ms" into 1.5 and "ms"; nullopt when the text does not start with a number.
std::optional<NumberAndUnit> split_number(std::string_view text) {
  std::string_view s = trim(text);
  NumberAndUnit out;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    out.number.negative = s.front() == '-';
    s.remove_prefix(1);
  }
  std::string integer;
  std::string fraction;
  while (!s.empty() && is_digit(s.front())) {
    integer.push_back(s.front());
    s.remove_prefix(1);
  }
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    while (!s.empty() && is_digit(s.front())) {
      fraction.push_back(s.front());
      s.remove_prefix(1);
    }
  }
  if (integer.empty() && fraction.empty()) {
    return std::nullopt;
  }
  std::string digits = integer + fraction;
  int exponent = -static_cast<int>(fraction.size());
  const auto first = digits.find_first_not_of('0');
  if (first == std::string::npos) {
    digits.clear();
    exponent = 0;
  } else {
    digits.erase(0, first);
    while (digits.back() == '0') {
      digits.pop_back();
      ++exponent;
    }
  }
  out.number.digits = std::move(digits);
  out.number.exponent = exponent;
  out.unit = trim(s);
  return out;
}

std::optional<U128> checked_mul(U128 a, U128 b) {
  if (a != 0 && b > std::numeric_limits<U128>::max() / a) {
    return std::nullopt;
  }
  return a * b;
}

U128 pow10(int n) {
  U128 r = 1;
  for (int i = 0; i < n; ++i) {
    r *= 10;
  }
  return r;
}

// number * factor rounded to the nearest integer; nullopt when it exceeds limit.
std::optional<uint64_t> scale(const Decimal& number, uint64_t factor, uint64_t limit,
                              std::string_view text) {
  if (number.digits.size() > kMaxDigits) {
    throw UnitError(in_quotes(text) + " has too many digits");
  }
  U128 m = 0;
  for (char c : number.digits) {
    m = m * 10 + static_cast<unsigned>(c - '0');
  }
  std::optional<U128> product = checked_mul(m, factor);
  if (!product) {
    return std::nullopt;
  }
  U128 result = 0;
  if (number.exponent >= 0) {
    if (number.exponent > 38) {
      return m == 0 ? std::optional<uint64_t>(0) : std::nullopt;
    }
    auto r = checked_mul(*product, pow10(number.exponent));
    if (!r) {
      return std::nullopt;
    }
    result = *r;
  } else {
    const int e = -number.exponent;
    if (e > 38) {
      return 0;  // m * factor < 10^37, so the quotient rounds to 0
    }
    const U128 divisor = pow10(e);
    result = *product / divisor;
    if (*product % divisor >= divisor - divisor / 2) {
      ++result;  // round half up
    }
  }
  if (result > limit) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(result);
}

// The double nearest to digits * 10^exponent (from_chars is correctly rounded).
double to_double(const std::string& digits, int exponent) {
  if (digits.empty()) {
    return 0.0;
  }
  const std::string text = digits + "e" + std::to_string(exponent);
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return exponent < 0 ? 0.0 : std::numeric_limits<double>::infinity();
  }
  return value;
}

// digits * 10^exponent in plain fixed notation: ("15", -1) -> "1.5", ("4", 1) -> "40".
std::string fixed_notation(const std::string& digits, int exponent) {
  if (digits.empty()) {
    return "0";
  }
  if (exponent >= 0) {
    return digits + std::string(static_cast<std::size_t>(exponent), '0');
  }
  const std::size_t frac = static_cast<std::size_t>(-exponent);
  if (frac < digits.size()) {
    return digits.substr(0, digits.size() - frac) + "." + digits.substr(digits.size() - frac);
  }
  return "0." + std::string(frac - digits.size(), '0') + digits;
}

// value / unit as an exact decimal: (1'500'000, 1'000'000) -> "1.5".
std::string exact_quotient(uint64_t value, uint64_t unit) {
  std::string out = std::to_string(value / unit);
  uint64_t rest = value % unit;
  if (rest == 0) {
    return out;
  }
  // unit is a power of 10 whenever this is reached with a remainder (callers ensure it).
  std::string frac;
  for (uint64_t u = unit / 10; u > 0; u /= 10) {
    frac.push_back(static_cast<char>('0' + rest / u));
    rest %= u;
  }
  while (!frac.empty() && frac.back() == '0') {
    frac.pop_back();
  }
  return out + "." + frac;
}

struct Unit {
  std::string_view name;
  uint64_t factor;
};

constexpr uint64_t kKi = 1024;

// Picks the most readable unit for value: the largest 1000-based unit not above it, unless that
// needs a fraction and the largest 1024-based unit not above it gives an integer.
std::string format_with_units(uint64_t value, std::span<const Unit> decimal_units,
                              std::span<const Unit> binary_units) {
  // Both spans are ordered largest first; the last decimal unit has factor 1.
  const Unit* dec = &decimal_units.back();
  for (const Unit& u : decimal_units) {
    if (value >= u.factor) {
      dec = &u;
      break;
    }
  }
  if (value % dec->factor != 0) {
    for (const Unit& u : binary_units) {
      if (value >= u.factor) {
        if (value % u.factor == 0) {
          return std::to_string(value / u.factor) + std::string(u.name);
        }
        break;
      }
    }
  }
  return exact_quotient(value, dec->factor) + std::string(dec->name);
}

}  // namespace

std::string group_thousands(uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out.push_back(',');
    }
    out.push_back(digits[i]);
  }
  return out;
}

std::string format_number(double value) {
  std::array<char, 64> buf{};
  const auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  return std::string(buf.data(), ptr);
}

Duration parse_duration(std::string_view text) {
  static constexpr std::array<Unit, 15> kUnits{{{"ns", 1},
                                                {"nsec", 1},
                                                {"nsecs", 1},
                                                {"us", 1'000},
                                                {"usec", 1'000},
                                                {"usecs", 1'000},
                                                {"\xC2\xB5s", 1'000},  // micro sign
                                                {"\xCE\xBCs", 1'000},  // Greek mu
                                                {"ms", 1'000'000},
                                                {"msec", 1'000'000},
                                                {"msecs", 1'000'000},
                                                {"s", 1'000'000'000},
                                                {"sec", 1'000'000'000},
                                                {"secs", 1'000'000'000},
                                                {"second", 1'000'000'000}}};
  const auto split = split_number(text);
  if (!split) {
    throw UnitError(in_quotes(text) +
                    " is not a duration; write a number and a unit, e.g. \"40ms\"");
  }
  if (split->unit.empty()) {
    throw UnitError(in_quotes(text) + " has no unit; write e.g. \"" + std::string(trim(text)) +
                    "ms\" (units: ns, us, ms, s)");
  }
  const Unit* unit = nullptr;
  for (const Unit& u : kUnits) {
    if (iequals(u.name, split->unit) || u.name == split->unit) {
      unit = &u;
      break;
    }
  }
  if (unit == nullptr) {
    throw UnitError(in_quotes(text) + ": unknown unit \"" + std::string(split->unit) +
                    "\"; a duration takes ns, us (or \xC2\xB5s), ms or s");
  }
  if (split->number.negative && !split->number.digits.empty()) {
    throw UnitError(in_quotes(text) + " is negative; a duration is 0 or more");
  }
  const auto ns = scale(split->number, unit->factor,
                        static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), text);
  if (!ns) {
    throw UnitError(in_quotes(text) + " is too long");
  }
  return Duration{static_cast<int64_t>(*ns)};
}

double parse_percentage(std::string_view text) {
  const auto split = split_number(text);
  const std::string hint = "; write a number 0..1 or a percentage like \"2.5%\"";
  if (!split) {
    throw UnitError(in_quotes(text) + " is not a probability" + hint);
  }
  if (split->unit.empty()) {
    const std::string number(trim(text));
    throw UnitError(in_quotes(text) + " is a string without \"%\"; write " + number +
                    " (a number 0..1) or \"" + number + "%\"");
  }
  if (split->unit != "%") {
    throw UnitError(in_quotes(text) + " is not a probability" + hint);
  }
  const Decimal& n = split->number;
  if (n.negative && !n.digits.empty()) {
    throw UnitError(in_quotes(text) + " is negative; a percentage is 0% to 100%");
  }
  if (n.digits.size() > kMaxDigits) {
    throw UnitError(in_quotes(text) + " has too many digits");
  }
  const double p = to_double(n.digits, n.exponent - 2);
  if (p > 1.0) {
    throw UnitError(in_quotes(text) + " is more than 100%");
  }
  return p;
}

double check_probability(double value) {
  if (std::isnan(value)) {
    throw UnitError("nan is not a probability; write a number 0..1 or a percentage like \"2.5%\"");
  }
  if (value < 0.0) {
    throw UnitError(format_number(value) + " is negative; a probability is 0..1");
  }
  if (value > 1.0) {
    if (value <= 100.0) {
      throw UnitError(format_number(value) + " is more than 1; did you mean \"" +
                      format_number(value) + "%\"?");
    }
    throw UnitError(format_number(value) +
                    " is more than 1; a probability is 0..1 or a percentage like \"2.5%\"");
  }
  return value;
}

uint64_t parse_rate(std::string_view text) {
  static constexpr std::array<Unit, 9> kBitUnits{{{"bit", 1},
                                                  {"kbit", 1'000},
                                                  {"mbit", 1'000'000},
                                                  {"gbit", 1'000'000'000},
                                                  {"tbit", 1'000'000'000'000},
                                                  {"kibit", kKi},
                                                  {"mibit", kKi * kKi},
                                                  {"gibit", kKi * kKi * kKi},
                                                  {"tibit", kKi * kKi * kKi * kKi}}};
  static constexpr std::array<Unit, 10> kByteUnits{{{"B/s", 8},
                                                    {"kB/s", 8'000},
                                                    {"KB/s", 8'000},
                                                    {"MB/s", 8'000'000},
                                                    {"GB/s", 8'000'000'000},
                                                    {"TB/s", 8'000'000'000'000},
                                                    {"KiB/s", 8 * kKi},
                                                    {"MiB/s", 8 * kKi * kKi},
                                                    {"GiB/s", 8 * kKi * kKi * kKi},
                                                    {"TiB/s", 8 * kKi * kKi * kKi * kKi}}};
  // "kbps" is kilobits/s to most people but kilobytes/s to tc; "kb/s" is no clearer.
  struct Ambiguous {
    std::string_view prefix;
    std::string_view bit_unit;
    std::string_view byte_unit;
    uint64_t bit_factor;
  };
  static constexpr std::array<Ambiguous, 5> kAmbiguous{{{"", "bit", "B/s", 1},
                                                        {"k", "kbit", "kB/s", 1'000},
                                                        {"m", "mbit", "MB/s", 1'000'000},
                                                        {"g", "gbit", "GB/s", 1'000'000'000},
                                                        {"t", "tbit", "TB/s", 1'000'000'000'000}}};
  const std::string units_hint = "\"10mbit\" (bits/s) or \"10MB/s\" (bytes/s)";
  const auto split = split_number(text);
  if (!split) {
    throw UnitError(in_quotes(text) + " is not a rate; write e.g. " + units_hint);
  }
  const std::string number(trim(text).substr(0, trim(text).size() - split->unit.size()));
  const std::string number_text(trim(number));
  if (split->unit.empty()) {
    throw UnitError(in_quotes(text) + " has no unit; write e.g. \"" + number_text +
                    "mbit\" (bits/s) or \"" + number_text + "MB/s\" (bytes/s)");
  }
  std::optional<uint64_t> factor;
  for (const Unit& u : kBitUnits) {
    const std::string per_second = std::string(u.name) + "/s";
    if (iequals(u.name, split->unit) || iequals(per_second, split->unit)) {
      factor = u.factor;
      break;
    }
  }
  for (const Unit& u : kByteUnits) {
    if (!factor && u.name == split->unit) {
      factor = u.factor;
    }
  }
  if (!factor) {
    for (const Ambiguous& a : kAmbiguous) {
      const std::string bps = std::string(a.prefix) + "bps";
      const std::string b_per_s = std::string(a.prefix) + "b/s";
      if (iequals(bps, split->unit) || iequals(b_per_s, split->unit)) {
        std::string message = in_quotes(text) + " is ambiguous: write \"" + number_text +
                              std::string(a.bit_unit) + "\"";
        const auto bits =
            scale(split->number, a.bit_factor, std::numeric_limits<uint64_t>::max(), text);
        const auto bytes =
            scale(split->number, a.bit_factor * 8, std::numeric_limits<uint64_t>::max(), text);
        if (bits) {
          message += " (" + group_thousands(*bits) + " bits/s)";
        }
        message += " or \"" + number_text + std::string(a.byte_unit) + "\"";
        if (bytes) {
          message += " (" + group_thousands(*bytes) + " bits/s)";
        }
        throw UnitError(message);
      }
    }
    throw UnitError(in_quotes(text) + ": unknown unit \"" + std::string(split->unit) +
                    "\"; a rate takes bit, kbit, mbit, gbit, tbit, kibit, mibit, gibit (bits/s) "
                    "or B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s (bytes/s)");
  }
  if (split->number.negative && !split->number.digits.empty()) {
    throw UnitError(in_quotes(text) + " is negative; a rate is more than 0");
  }
  if (split->number.digits.empty()) {
    throw UnitError(in_quotes(text) + " is zero; leave the key out for no rate limit");
  }
  const auto bits = scale(split->number, *factor, std::numeric_limits<uint64_t>::max(), text);
  if (!bits) {
    throw UnitError(in_quotes(text) + " is too large");
  }
  if (*bits == 0) {
    throw UnitError(in_quotes(text) + " is less than 1 bit/s");
  }
  return *bits;
}

uint64_t parse_size(std::string_view text) {
  static constexpr std::array<Unit, 8> kUnits{{{"B", 1},
                                               {"KB", 1'000},
                                               {"kB", 1'000},
                                               {"MB", 1'000'000},
                                               {"GB", 1'000'000'000},
                                               {"KiB", kKi},
                                               {"MiB", kKi * kKi},
                                               {"GiB", kKi * kKi * kKi}}};
  const auto split = split_number(text);
  if (!split) {
    throw UnitError(in_quotes(text) + " is not a size; write e.g. \"64KB\"");
  }
  if (split->unit.empty()) {
    throw UnitError(in_quotes(text) + " has no unit; write e.g. \"" + std::string(trim(text)) +
                    "B\" (bytes), or an integer without quotes for packets");
  }
  const Unit* unit = nullptr;
  for (const Unit& u : kUnits) {
    if (u.name == split->unit) {
      unit = &u;
      break;
    }
  }
  if (unit == nullptr) {
    throw UnitError(in_quotes(text) + ": unknown unit \"" + std::string(split->unit) +
                    "\"; a size takes B, KB, MB, GB (1000-based) or KiB, MiB, GiB (1024-based)");
  }
  if (split->number.negative && !split->number.digits.empty()) {
    throw UnitError(in_quotes(text) + " is negative; a size is at least 1B");
  }
  const auto bytes = scale(split->number, unit->factor,
                           static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), text);
  if (!bytes) {
    throw UnitError(in_quotes(text) + " is too large");
  }
  if (*bytes == 0) {
    throw UnitError(in_quotes(text) + " is less than 1 byte; a size is at least 1B");
  }
  return *bytes;
}

std::string format_duration(Duration d) {
  static constexpr std::array<Unit, 4> kUnits{
      {{"s", 1'000'000'000}, {"ms", 1'000'000}, {"us", 1'000}, {"ns", 1}}};
  const int64_t ns = d.count();
  if (ns == 0) {
    return "0ms";
  }
  const std::string sign = ns < 0 ? "-" : "";
  const uint64_t magnitude = ns < 0 ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  return sign + format_with_units(magnitude, kUnits, {});
}

std::string format_percentage(double p) {
  if (p == 0.0) {
    return "0%";
  }
  // The shortest scientific form reads back as p exactly; moving its decimal point two places
  // keeps the same decimal digits, so parse_percentage() lands on p again.
  std::array<char, 64> buf{};
  const auto [ptr, ec] =
      std::to_chars(buf.data(), buf.data() + buf.size(), p, std::chars_format::scientific);
  const std::string_view sci(buf.data(), static_cast<std::size_t>(ptr - buf.data()));
  const auto e_pos = sci.find('e');
  std::string digits;
  int fraction_digits = 0;
  bool after_point = false;
  for (char c : sci.substr(0, e_pos)) {
    if (c == '.') {
      after_point = true;
    } else if (is_digit(c)) {
      digits.push_back(c);
      fraction_digits += after_point ? 1 : 0;
    }
  }
  int exponent = 0;
  const std::string_view exp_text = sci.substr(e_pos + 1);
  const char* exp_begin = exp_text.data() + (exp_text.front() == '+' ? 1 : 0);
  std::from_chars(exp_begin, exp_text.data() + exp_text.size(), exponent);
  exponent -= fraction_digits;
  while (digits.size() > 1 && digits.back() == '0') {
    digits.pop_back();
    ++exponent;
  }
  const std::string sign = p < 0 ? "-" : "";
  return sign + fixed_notation(digits, exponent + 2) + "%";
}

std::string format_rate(uint64_t bits_per_second) {
  static constexpr std::array<Unit, 5> kDecimal{{{"tbit", 1'000'000'000'000},
                                                 {"gbit", 1'000'000'000},
                                                 {"mbit", 1'000'000},
                                                 {"kbit", 1'000},
                                                 {"bit", 1}}};
  static constexpr std::array<Unit, 4> kBinary{{{"tibit", kKi * kKi * kKi * kKi},
                                                {"gibit", kKi * kKi * kKi},
                                                {"mibit", kKi * kKi},
                                                {"kibit", kKi}}};
  return format_with_units(bits_per_second, kDecimal, kBinary);
}

std::string format_size(uint64_t bytes) {
  static constexpr std::array<Unit, 4> kDecimal{
      {{"GB", 1'000'000'000}, {"MB", 1'000'000}, {"KB", 1'000}, {"B", 1}}};
  static constexpr std::array<Unit, 3> kBinary{
      {{"GiB", kKi * kKi * kKi}, {"MiB", kKi * kKi}, {"KiB", kKi}}};
  return format_with_units(bytes, kDecimal, kBinary);
}

}  // namespace badlink
