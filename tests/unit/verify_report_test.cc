// The text `badlink verify` prints from a VerifyResult: the formatting of rates, values and
// tolerances, each direction's section (what was sent, the base path, the table and its
// notes), the directions not measured, badlink run's unclean exit, and the verdict's counts.
#include "probe/verify_report.hh"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace badlink::probe {
namespace {

TEST(FormatRate, KilobitsBelowAMegabitThenMegabits) {
  EXPECT_EQ(format_rate(12345), "12.3 kbit/s");
  EXPECT_EQ(format_rate(999'949), "999.9 kbit/s");
  EXPECT_EQ(format_rate(1e6), "1.00 Mbit/s");
  EXPECT_EQ(format_rate(24'560'000), "24.56 Mbit/s");
}

TEST(FormatValue, TwoDecimalsForMillisecondsThreeOtherwise) {
  EXPECT_EQ(format_value(40.126, "ms"), "40.13 ms");
  EXPECT_EQ(format_value(1.23456, "%"), "1.235 %");
  EXPECT_EQ(format_value(7.9, "Mbit/s"), "7.900 Mbit/s");
}

TEST(FormatTolerance, OneSidedSymmetricOrTwoSided) {
  Figure f{"delay p50", "ms", 40.0, 40.0, 40.0, 41.5, true, ""};
  EXPECT_EQ(format_tolerance(f), "0/+1.50 ms") << "nothing below the configured value";
  f.low = 38.5;
  EXPECT_EQ(format_tolerance(f), "±1.50 ms");
  f.low = 38.51;  // within 1% of each other: still symmetric
  EXPECT_EQ(format_tolerance(f), "±1.50 ms");
  f.low = 39.5;
  EXPECT_EQ(format_tolerance(f), "-0.50/+1.50 ms");
  Figure loss{"loss", "%", 1.0, 1.0, 0.75, 1.5, true, ""};
  EXPECT_EQ(format_tolerance(loss), "-0.250/+0.500 %");
  loss.measurable = false;
  EXPECT_EQ(format_tolerance(loss), "-");
}

VerifyResult outbound_result() {
  VerifyResult result;
  result.profile = "lte";
  DirectionResult& d = result.directions.emplace_back();
  d.direction = Direction::outbound;
  d.sparse = {200, 75.0, 199};
  d.dense = {5000, 1234.56789, 4990, 3, 4};
  d.rate.sent = 3000;
  d.rate.payload = 1200;
  d.rate.achieved_pps = 2500.0;  // (1200 + 28) * 8 bits each: 24.56 Mbit/s offered
  d.rate.elapsed_s = 1.2;
  d.rate.measured = true;
  d.base_p50_ms = 0.0451;
  d.base_p99_ms = 0.09;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  d.figures = {
      {"delay p50", "ms", 40.0, 40.1234567, 39.5, 40.5, true, "includes the base path"},
      {"loss", "%", 1.0, 2.0, 0.5, 1.5, true, ""},
      {"throughput", "Mbit/s", 8.0, nan, 7.6, 8.08, false, "the sender reached only 5 Mbit/s"},
      {"delay p99", "ms", 50.0, 49.0, 50.0, 53.0, true, "a note not shown"},
  };
  return result;
}

TEST(VerifyReport, ADirectionsSectionTheDirectionNotMeasuredAndTheVerdict) {
  VerifyResult result = outbound_result();
  result.ok = false;
  EXPECT_EQ(verify_report(result),
            "\n"
            "outbound: client -> server, leaving through the WAN interface\n"
            "  sent 200 packets 75.0 ms apart (delay), 5000 at 1235/s (loss, reordering), 3000 "
            "of 1200 B in 1.2 s at 24.56 Mbit/s (throughput)\n"
            "  base path without badlink: delay p50 0.045 ms, p99 0.090 ms\n"
            "  figure                 configured       measured              tolerance  ok\n"
            "  delay p50                40.00 ms       40.12 ms               ±0.50 ms  yes\n"
            "  loss                      1.000 %        2.000 %               ±0.500 %  NO\n"
            "  throughput           8.000 Mbit/s     nan Mbit/s                      -  n/a\n"
            "  delay p99                50.00 ms       49.00 ms             0/+3.00 ms  NO\n"
            "  note: delay p50: includes the base path\n"
            "  note: throughput: the sender reached only 5 Mbit/s\n"
            "\n"
            "inbound: server -> client, arriving from the WAN interface\n"
            "  not impaired by the profile: not measured\n"
            "\n"
            "verdict: 2 of 3 figures OUTSIDE their tolerance (1 not measurable on this testbed)\n");
}

TEST(VerifyReport, WithoutARateStreamTheSentLineStopsAtLoss) {
  VerifyResult result = outbound_result();
  result.directions[0].rate.measured = false;
  const std::string report = verify_report(result);
  EXPECT_NE(report.find("  sent 200 packets 75.0 ms apart (delay), 5000 at 1235/s (loss, "
                        "reordering)\n"),
            std::string::npos)
      << report;
}

TEST(VerifyReport, AllWithinTolerance) {
  VerifyResult result;
  result.ok = true;
  for (const Direction direction : {Direction::outbound, Direction::inbound}) {
    DirectionResult& d = result.directions.emplace_back();
    d.direction = direction;
    d.figures = {{"loss", "%", 1.0, 1.1, 0.5, 1.5, true, ""}};
  }
  const std::string report = verify_report(result);
  EXPECT_EQ(report.find("not impaired"), std::string::npos);
  EXPECT_LT(report.find("\noutbound: "), report.find("\ninbound: "));
  const std::string verdict = "\n\nverdict: all 2 figures within tolerance\n";
  ASSERT_GE(report.size(), verdict.size());
  EXPECT_EQ(report.substr(report.size() - verdict.size()), verdict);
}

TEST(VerifyReport, BadlinkRunThatDidNotExitCleanlyComesFirstWithItsLog) {
  VerifyResult result;
  result.ok = false;
  result.run_status = std::nullopt;
  result.run_log_tail = "\n  error: something\n  last line";
  EXPECT_FALSE(result.run_clean());
  const std::string report = verify_report(result);
  EXPECT_EQ(report.substr(0, report.find("\n\n")),
            "badlink run did not exit cleanly (status killed):\n  error: something\n  last line");
  EXPECT_NE(report.find("verdict: 0 of 0 figures OUTSIDE their tolerance\n"), std::string::npos);

  result.run_status = 1;
  EXPECT_EQ(verify_report(result).find("badlink run did not exit cleanly (status 1):"), 0U);
  result.run_status = 0;
  result.run_log_tail.clear();
  EXPECT_TRUE(result.run_clean());
  EXPECT_EQ(verify_report(result).find("badlink run"), std::string::npos);
}

}  // namespace
}  // namespace badlink::probe
