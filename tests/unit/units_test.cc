// Unit parsing and printing: durations, probabilities, rates, sizes, and each error message.
#include "profile/units.hh"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace badlink {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// The message of the UnitError that f throws, or "" when it does not throw.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const UnitError& e) {
    return e.what();
  }
  return "";
}

TEST(ParseDuration, AcceptsEachUnit) {
  EXPECT_EQ(parse_duration("100ns"), 100ns);
  EXPECT_EQ(parse_duration("250us"), 250us);
  EXPECT_EQ(parse_duration("250\xC2\xB5s"), 250us);  // micro sign
  EXPECT_EQ(parse_duration("250\xCE\xBCs"), 250us);  // Greek mu
  EXPECT_EQ(parse_duration("40ms"), 40ms);
  EXPECT_EQ(parse_duration("2s"), 2s);
  EXPECT_EQ(parse_duration("0ms"), 0ns);
  EXPECT_EQ(parse_duration("40msec"), 40ms);  // tc spelling
  EXPECT_EQ(parse_duration("1sec"), 1s);
  EXPECT_EQ(parse_duration(" 40 ms "), 40ms);
}

TEST(ParseDuration, FractionsAreExactAndRoundToNearestNanosecond) {
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("1.1s"), 1100ms);
  EXPECT_EQ(parse_duration("0.001ms"), 1us);
  EXPECT_EQ(parse_duration("1.4ns"), 1ns);
  EXPECT_EQ(parse_duration("1.5ns"), 2ns);
  EXPECT_EQ(parse_duration("0.0000000004s"), 0ns);
  EXPECT_EQ(parse_duration("0.123456789123s"), 123456789ns);
}

TEST(ParseDuration, BareNumberSuggestsAUnit) {
  EXPECT_EQ(error_of([] { parse_duration("40"); }),
            "\"40\" has no unit; write e.g. \"40ms\" (units: ns, us, ms, s)");
}

TEST(ParseDuration, UnknownUnitListsTheAcceptedOnes) {
  EXPECT_EQ(error_of([] { parse_duration("40 parsecs"); }),
            "\"40 parsecs\": unknown unit \"parsecs\"; a duration takes ns, us (or \xC2\xB5s), "
            "ms or s");
  EXPECT_THAT(error_of([] { parse_duration("1h"); }), HasSubstr("unknown unit \"h\""));
}

TEST(ParseDuration, RejectsNegativeGarbageAndHugeValues) {
  EXPECT_EQ(error_of([] { parse_duration("-5ms"); }),
            "\"-5ms\" is negative; a duration is 0 or more");
  EXPECT_EQ(parse_duration("-0ms"), 0ns);
  EXPECT_EQ(error_of([] { parse_duration("fast"); }),
            "\"fast\" is not a duration; write a number and a unit, e.g. \"40ms\"");
  EXPECT_EQ(error_of([] { parse_duration(""); }),
            "\"\" is not a duration; write a number and a unit, e.g. \"40ms\"");
  EXPECT_EQ(error_of([] { parse_duration("99999999999s"); }), "\"99999999999s\" is too long");
  EXPECT_EQ(error_of([] { parse_duration("1234567890123456789012345ms"); }),
            "\"1234567890123456789012345ms\" has too many digits");
}

TEST(FormatDuration, PicksTheLargestExactUnit) {
  EXPECT_EQ(format_duration(0ns), "0ms");
  EXPECT_EQ(format_duration(40ms), "40ms");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(250us), "250us");
  EXPECT_EQ(format_duration(1234567ns), "1.234567ms");
  EXPECT_EQ(format_duration(7ns), "7ns");
  EXPECT_EQ(format_duration(1h), "3600s");
}

TEST(FormatDuration, RoundTrips) {
  for (const Duration d : {Duration{1}, Duration{999}, Duration{1001}, Duration{123456789},
                           Duration{3'600'000'000'000}, Duration{1'000'000'001}}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
  }
}

TEST(ParsePercentage, GivesTheNearestDouble) {
  EXPECT_EQ(parse_percentage("2.5%"), 0.025);
  EXPECT_EQ(parse_percentage("1%"), 0.01);
  EXPECT_EQ(parse_percentage("0%"), 0.0);
  EXPECT_EQ(parse_percentage("100%"), 1.0);
  EXPECT_EQ(parse_percentage("0.1%"), 0.001);
  EXPECT_EQ(parse_percentage("33.3 %"), 0.333);
}

TEST(ParsePercentage, Errors) {
  EXPECT_EQ(error_of([] { parse_percentage("150%"); }), "\"150%\" is more than 100%");
  EXPECT_EQ(error_of([] { parse_percentage("-1%"); }),
            "\"-1%\" is negative; a percentage is 0% to 100%");
  EXPECT_EQ(error_of([] { parse_percentage("0.5"); }),
            "\"0.5\" is a string without \"%\"; write 0.5 (a number 0..1) or \"0.5%\"");
  EXPECT_EQ(error_of([] { parse_percentage("lots"); }),
            "\"lots\" is not a probability; write a number 0..1 or a percentage like \"2.5%\"");
  EXPECT_EQ(error_of([] { parse_percentage("5 percent"); }),
            "\"5 percent\" is not a probability; write a number 0..1 or a percentage like "
            "\"2.5%\"");
}

TEST(CheckProbability, AcceptsZeroToOne) {
  EXPECT_EQ(check_probability(0.0), 0.0);
  EXPECT_EQ(check_probability(0.25), 0.25);
  EXPECT_EQ(check_probability(1.0), 1.0);
}

TEST(CheckProbability, HintsAtPercentForNumbersAboveOne) {
  EXPECT_EQ(error_of([] { check_probability(2.0); }), "2 is more than 1; did you mean \"2%\"?");
  EXPECT_EQ(error_of([] { check_probability(2.5); }), "2.5 is more than 1; did you mean \"2.5%\"?");
  EXPECT_EQ(error_of([] { check_probability(250.0); }),
            "250 is more than 1; a probability is 0..1 or a percentage like \"2.5%\"");
  EXPECT_EQ(error_of([] { check_probability(-0.5); }), "-0.5 is negative; a probability is 0..1");
  EXPECT_THAT(error_of([] { check_probability(std::nan("")); }),
              HasSubstr("nan is not a probability"));
}

TEST(FormatPercentage, ReadableAndExact) {
  EXPECT_EQ(format_percentage(0.0), "0%");
  EXPECT_EQ(format_percentage(0.01), "1%");
  EXPECT_EQ(format_percentage(0.025), "2.5%");
  EXPECT_EQ(format_percentage(1.0), "100%");
  EXPECT_EQ(format_percentage(0.0001), "0.01%");
  EXPECT_EQ(format_percentage(1e-9), "0.0000001%");
}

TEST(FormatPercentage, RoundTripsAwkwardDoubles) {
  for (const double p : {0.1 + 0.2, 1.0 / 3.0, 0.7, 0.025000000000000001, 5e-324, 1e-300,
                         0.123456789012345678, 0.9999999999999999, 0.3}) {
    EXPECT_EQ(parse_percentage(format_percentage(p)), p) << format_percentage(p);
  }
}

TEST(ParseRate, BitUnitsAsTc) {
  EXPECT_EQ(parse_rate("10mbit"), 10'000'000u);
  EXPECT_EQ(parse_rate("10Mbit"), 10'000'000u);
  EXPECT_EQ(parse_rate("10mbit/s"), 10'000'000u);
  EXPECT_EQ(parse_rate("100bit"), 100u);
  EXPECT_EQ(parse_rate("64kbit"), 64'000u);
  EXPECT_EQ(parse_rate("1gbit"), 1'000'000'000u);
  EXPECT_EQ(parse_rate("2tbit"), 2'000'000'000'000u);
  EXPECT_EQ(parse_rate("1.5mbit"), 1'500'000u);
  EXPECT_EQ(parse_rate("1kibit"), 1024u);
  EXPECT_EQ(parse_rate("1mibit"), 1'048'576u);
  EXPECT_EQ(parse_rate("1gibit"), 1'073'741'824u);
}

TEST(ParseRate, ByteUnits) {
  EXPECT_EQ(parse_rate("10MB/s"), 80'000'000u);
  EXPECT_EQ(parse_rate("1kB/s"), 8'000u);
  EXPECT_EQ(parse_rate("1KB/s"), 8'000u);
  EXPECT_EQ(parse_rate("100B/s"), 800u);
  EXPECT_EQ(parse_rate("1GB/s"), 8'000'000'000u);
  EXPECT_EQ(parse_rate("1MiB/s"), 8u * 1'048'576u);
}

TEST(ParseRate, AmbiguousBpsGivesBothReadings) {
  EXPECT_EQ(error_of([] { parse_rate("10mbps"); }),
            "\"10mbps\" is ambiguous: write \"10mbit\" (10,000,000 bits/s) or \"10MB/s\" "
            "(80,000,000 bits/s)");
  EXPECT_EQ(error_of([] { parse_rate("10Mbps"); }),
            "\"10Mbps\" is ambiguous: write \"10mbit\" (10,000,000 bits/s) or \"10MB/s\" "
            "(80,000,000 bits/s)");
  EXPECT_EQ(error_of([] { parse_rate("512kbps"); }),
            "\"512kbps\" is ambiguous: write \"512kbit\" (512,000 bits/s) or \"512kB/s\" "
            "(4,096,000 bits/s)");
  EXPECT_EQ(error_of([] { parse_rate("100bps"); }),
            "\"100bps\" is ambiguous: write \"100bit\" (100 bits/s) or \"100B/s\" (800 bits/s)");
  EXPECT_THAT(error_of([] { parse_rate("1gbps"); }), HasSubstr("write \"1gbit\""));
  EXPECT_THAT(error_of([] { parse_rate("10Mb/s"); }), HasSubstr("is ambiguous"));
}

TEST(ParseRate, Errors) {
  EXPECT_EQ(error_of([] { parse_rate("10"); }),
            "\"10\" has no unit; write e.g. \"10mbit\" (bits/s) or \"10MB/s\" (bytes/s)");
  EXPECT_EQ(error_of([] { parse_rate("0mbit"); }),
            "\"0mbit\" is zero; leave the key out for no rate limit");
  EXPECT_EQ(error_of([] { parse_rate("-1mbit"); }),
            "\"-1mbit\" is negative; a rate is more than 0");
  EXPECT_EQ(error_of([] { parse_rate("0.1bit"); }), "\"0.1bit\" is less than 1 bit/s");
  EXPECT_EQ(error_of([] { parse_rate("99999999tbit"); }), "\"99999999tbit\" is too large");
  EXPECT_THAT(error_of([] { parse_rate("10 furlongs"); }),
              HasSubstr("unknown unit \"furlongs\"; a rate takes bit, kbit, mbit"));
  EXPECT_THAT(error_of([] { parse_rate("10mb/S"); }), HasSubstr("is ambiguous"));
  EXPECT_EQ(error_of([] { parse_rate("fast"); }),
            "\"fast\" is not a rate; write e.g. \"10mbit\" (bits/s) or \"10MB/s\" (bytes/s)");
}

TEST(FormatRate, ReadableAndExact) {
  EXPECT_EQ(format_rate(10'000'000), "10mbit");
  EXPECT_EQ(format_rate(1'500'000), "1.5mbit");
  EXPECT_EQ(format_rate(1'048'576), "1mibit");
  EXPECT_EQ(format_rate(64'000), "64kbit");
  EXPECT_EQ(format_rate(999), "999bit");
  EXPECT_EQ(format_rate(2'000'000'000'000), "2tbit");
  for (const uint64_t r :
       {1ull, 1023ull, 1024ull, 2'048'000ull, 123'456'789ull, 18'446'744'073'709'551'615ull}) {
    EXPECT_EQ(parse_rate(format_rate(r)), r) << format_rate(r);
  }
}

TEST(ParseSize, DecimalAndBinaryUnits) {
  EXPECT_EQ(parse_size("100B"), 100u);
  EXPECT_EQ(parse_size("64KB"), 64'000u);
  EXPECT_EQ(parse_size("64kB"), 64'000u);
  EXPECT_EQ(parse_size("1.5MB"), 1'500'000u);
  EXPECT_EQ(parse_size("1GB"), 1'000'000'000u);
  EXPECT_EQ(parse_size("64KiB"), 65'536u);
  EXPECT_EQ(parse_size("1MiB"), 1'048'576u);
  EXPECT_EQ(parse_size("1GiB"), 1'073'741'824u);
}

TEST(ParseSize, Errors) {
  EXPECT_EQ(error_of([] { parse_size("64"); }),
            "\"64\" has no unit; write e.g. \"64B\" (bytes), or an integer without quotes for "
            "packets");
  EXPECT_EQ(error_of([] { parse_size("64kb"); }),
            "\"64kb\": unknown unit \"kb\"; a size takes B, KB, MB, GB (1000-based) or KiB, "
            "MiB, GiB (1024-based)");
  EXPECT_EQ(error_of([] { parse_size("0B"); }),
            "\"0B\" is less than 1 byte; a size is at least 1B");
  EXPECT_EQ(error_of([] { parse_size("-1KB"); }), "\"-1KB\" is negative; a size is at least 1B");
  EXPECT_EQ(error_of([] { parse_size("big"); }), "\"big\" is not a size; write e.g. \"64KB\"");
}

TEST(FormatSize, ReadableAndExact) {
  EXPECT_EQ(format_size(100), "100B");
  EXPECT_EQ(format_size(64'000), "64KB");
  EXPECT_EQ(format_size(65'536), "64KiB");
  EXPECT_EQ(format_size(1'500'000), "1.5MB");
  for (const uint64_t s : {1ull, 1000ull, 1023ull, 1024ull, 1'048'577ull, 5'000'000'000ull}) {
    EXPECT_EQ(parse_size(format_size(s)), s) << format_size(s);
  }
}

TEST(FormatNumber, ShortestRoundTrip) {
  EXPECT_EQ(format_number(2.0), "2");
  EXPECT_EQ(format_number(0.25), "0.25");
  EXPECT_EQ(group_thousands(0), "0");
  EXPECT_EQ(group_thousands(999), "999");
  EXPECT_EQ(group_thousands(1000), "1,000");
  EXPECT_EQ(group_thousands(80'000'000), "80,000,000");
}

}  // namespace
}  // namespace badlink
