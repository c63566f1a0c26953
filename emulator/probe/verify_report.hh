// What `badlink verify` measured and judged, as the text it prints: per impaired direction what
// was sent, the base path, the table figure | configured | measured | tolerance | ok and its
// notes, then the verdict.
#pragma once

#include <string>

#include "core/packet.hh"
#include "probe/verify_model.hh"
#include "probe/verify_result.hh"

namespace badlink::probe {

// "12.3 kbit/s" below 1 Mbit/s, "8.00 Mbit/s" from there.
std::string format_rate(double bps);

// A figure's value in its unit: "%" and other units with three decimals, "ms" with two.
std::string format_value(double value, const std::string& unit);

// "0/+x" when nothing below the configured value is allowed, "±x" when the range is symmetric
// (within 1%), "-x/+y" otherwise; "-" for a figure that is not measurable.
std::string format_tolerance(const Figure& figure);

// "outbound: client -> server, leaving through the WAN interface", and inbound's.
std::string direction_label(Direction direction);

// The report, from the first line after the measurements to the verdict's line.
std::string verify_report(const VerifyResult& result);

}  // namespace badlink::probe
