// Prometheus text from a snapshot: families with HELP and TYPE, counters per link, direction
// and outcome, a cumulative delay histogram, escaped labels; and --api's endpoints and the
// JSON-to-TOML writing the API's bodies go through.
#include <gtest/gtest.h>

#include <sstream>

#include "api/endpoint.hh"
#include "api/json_toml.hh"
#include "api/metrics.hh"

namespace badlink::api {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

RuntimeSnapshot sample() {
  RuntimeSnapshot s;
  s.profile = "lte \"x\"";
  LinkSnapshot l;
  l.name = "video";
  DirectionStats& out = l.directions[index_of(Direction::outbound)];
  out.received = 100;
  out.sent = 90;
  out.dropped_loss = 7;
  out.dropped_queue = 1;
  out.bytes_sent = 12345;
  for (int i = 0; i < 50; ++i) {
    out.delay.record(milliseconds(20));
  }
  for (int i = 0; i < 40; ++i) {
    out.delay.record(microseconds(300));
  }
  l.queued_bytes[index_of(Direction::outbound)] = 3000;
  s.links.push_back(l);
  s.diversion.kernel_queue_dropped = 3;
  return s;
}

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l == line) {
      return true;
    }
  }
  return false;
}

TEST(Metrics, CountersPerLinkDirectionAndOutcome) {
  const std::string t = prometheus_text(sample(), "1.2.3");
  EXPECT_TRUE(has_line(t, "# TYPE badlink_packets_total counter"));
  EXPECT_TRUE(has_line(
      t, R"(badlink_packets_total{link="video",direction="outbound",outcome="received"} 100)"));
  EXPECT_TRUE(
      has_line(t, R"(badlink_packets_total{link="video",direction="outbound",outcome="lost"} 7)"));
  EXPECT_TRUE(has_line(
      t, R"(badlink_packets_total{link="video",direction="outbound",outcome="queue_dropped"} 1)"));
  EXPECT_TRUE(has_line(
      t, R"(badlink_packets_total{link="video",direction="inbound",outcome="received"} 0)"));
  EXPECT_TRUE(has_line(t, R"(badlink_bytes_total{link="video",direction="outbound"} 12345)"));
  EXPECT_TRUE(has_line(t, R"(badlink_queue_packets{link="video",direction="outbound"} 2)"));
  EXPECT_TRUE(has_line(t, R"(badlink_queue_bytes{link="video",direction="outbound"} 3000)"));
  EXPECT_TRUE(has_line(t, "badlink_kernel_queue_dropped_total 3"));
  EXPECT_TRUE(has_line(t, R"(badlink_build_info{version="1.2.3"} 1)"));
  EXPECT_TRUE(has_line(t, R"(badlink_profile_info{name="lte \"x\""} 1)"));
}

TEST(Metrics, DelayHistogramIsCumulative) {
  const std::string t = prometheus_text(sample(), "1");
  const std::string l = R"(link="video",direction="outbound")";
  EXPECT_TRUE(has_line(t, "# TYPE badlink_delay_seconds histogram"));
  EXPECT_TRUE(has_line(t, "badlink_delay_seconds_bucket{" + l + ",le=\"0.0001\"} 0"));
  EXPECT_TRUE(has_line(t, "badlink_delay_seconds_bucket{" + l + ",le=\"0.0005\"} 40"));
  EXPECT_TRUE(has_line(t, "badlink_delay_seconds_bucket{" + l + ",le=\"0.01\"} 40"));
  // 20 ms falls in a bucket whose upper edge is just above 20 ms (1.6% wide).
  EXPECT_TRUE(has_line(t, "badlink_delay_seconds_bucket{" + l + ",le=\"0.05\"} 90"));
  EXPECT_TRUE(has_line(t, "badlink_delay_seconds_bucket{" + l + ",le=\"+Inf\"} 90"));
  EXPECT_TRUE(has_line(t, "badlink_delay_seconds_count{" + l + "} 90"));
  EXPECT_TRUE(has_line(t, "badlink_delay_seconds_sum{" + l + "} 1.012"));
}

TEST(Metrics, LabelValuesAreEscaped) { EXPECT_EQ(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd"); }

TEST(Endpoint, ParsesWhatApiTakes) {
  Endpoint e = parse_endpoint("unix:/run/badlink/1.sock");
  EXPECT_EQ(e.kind, Endpoint::Kind::unix_socket);
  EXPECT_EQ(e.path, "/run/badlink/1.sock");
  EXPECT_TRUE(e.local());
  e = parse_endpoint("127.0.0.1:8080");
  EXPECT_EQ(e.kind, Endpoint::Kind::tcp);
  EXPECT_EQ(e.port, 8080);
  EXPECT_TRUE(e.local());
  e = parse_endpoint("[::1]:9");
  EXPECT_EQ(e.address, "::1");
  EXPECT_TRUE(e.local());
  EXPECT_EQ(e.to_string(), "[::1]:9");
  EXPECT_FALSE(parse_endpoint("192.0.2.1:80").local());
  EXPECT_FALSE(parse_endpoint("[2001:db8::1]:80").local());
  EXPECT_FALSE(parse_endpoint("0.0.0.0:80").local());
  for (const char* bad : {"unix:", "unix:relative", "localhost:80", "127.0.0.1", "127.0.0.1:0",
                          "127.0.0.1:65536", "::1:80", "[::1]:x"}) {
    EXPECT_THROW(parse_endpoint(bad), std::invalid_argument) << bad;
  }
}

TEST(JsonToml, ValuesAsTomlWritesThem) {
  using nlohmann::json;
  EXPECT_EQ(toml_value(json("80ms")), "\"80ms\"");
  EXPECT_EQ(toml_value(json("a\"b\n")), R"("a\"b\n")");
  EXPECT_EQ(toml_value(json(3)), "3");
  EXPECT_EQ(toml_value(json(0.25)), "0.25");
  EXPECT_EQ(toml_value(json(true)), "true");
  EXPECT_EQ(toml_value(json::array({1, "x"})), R"([1, "x"])");
  EXPECT_EQ(toml_value(json{{"model", "markov"}, {"p13", "1%"}}),
            R"({ "model" = "markov", "p13" = "1%" })");
  EXPECT_EQ(toml_value(json::object()), "{}");
  EXPECT_THROW(toml_value(json(nullptr)), std::invalid_argument);
  EXPECT_EQ(toml_document(json{{"a", 1}}), "\"a\" = 1\n");
  EXPECT_THROW(toml_document(json::array()), std::invalid_argument);
}

}  // namespace
}  // namespace badlink::api
