// How badlink prints JSON (nlohmann::ordered_json): keys in the order written, two spaces of
// indent, one key per line, so that scripts can read a field with awk as well as with a parser.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/time.hh"

namespace badlink {

// The text of `value` and a newline. Strings that are not valid UTF-8 (a path's bytes) get
// U+FFFD for each bad byte instead of an exception: the JSON stays valid.
std::string json_text(const nlohmann::ordered_json& value);

// A duration in microseconds, printed with at most three decimals (nanoseconds), exact below
// 2^53 ns; an integral figure prints as "20000.0", so it is always a JSON float.
double json_micros(Duration value);

// Seconds rounded to milliseconds.
double json_seconds(double value);

}  // namespace badlink
