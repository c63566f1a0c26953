// The control API's routes over LoopControl and a fake loop: every status the issue names,
// error bodies with positions and "did you mean", PATCH/null/reset semantics, and the running
// profile unchanged after each bad request.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/loop_control.hh"
#include "api/routes.hh"
#include "fake_loop.hh"

namespace badlink::api {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr const char* kTwoLinks = R"(
[profile]
name = "two"

[[link]]
name = "video"
match = { protocol = "udp", ports = [5000] }
[link.outbound]
delay = "20ms"

[[link]]
name = "rest"
[link.outbound]
delay = "5ms"
[link.inbound]
loss = "1%"
)";

class RoutesTest : public ::testing::Test {
 protected:
  RoutesTest()
      : start_(parse_profile(kTwoLinks, "two.toml")),
        loop_(start_),
        control_(loop_.queue, start_, std::chrono::milliseconds(5000)) {}

  Response call(const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& content_type = "application/json") {
    Request r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.content_type = content_type;
    r.authorization = authorization_;
    r.peer = "test";
    return route(r, control_, options_);
  }

  Duration outbound_delay(const std::string& link) {
    return loop_.profile().link(link).outbound.delay.delay;
  }

  // The running profile as the loop holds it, rendered: to see that a bad request changed
  // nothing at all.
  std::string running() { return render_profile(loop_.profile()); }

  Profile start_;
  testing::FakeLoop loop_;
  LoopControl control_;
  RouteOptions options_{"", "0.0-test"};
  std::string authorization_;
};

TEST_F(RoutesTest, ProfileAsJsonAndToml) {
  const Response r = call("GET", "/v1/profile");
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = json::parse(r.body);
  EXPECT_EQ(j["profile"]["name"], "two");
  EXPECT_EQ(j["link"][0]["name"], "video");
  EXPECT_EQ(j["link"][0]["outbound"]["delay"], "20ms");

  Request toml;
  toml.method = "GET";
  toml.target = "/v1/profile";
  toml.accept = "application/toml";
  const Response t = route(toml, control_, options_);
  EXPECT_EQ(t.status, 200);
  EXPECT_EQ(t.content_type, "application/toml");
  EXPECT_EQ(t.body, render_profile(start_));
}

TEST_F(RoutesTest, PatchSetsKeysAndNullGoesBackToTheProfiles) {
  Response r = call("PATCH", "/v1/links/video/outbound", R"({"delay": "80ms", "loss": "5%"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["delay"], "80ms");
  EXPECT_EQ(outbound_delay("video"), std::chrono::milliseconds(80));
  EXPECT_EQ(outbound_delay("rest"), std::chrono::milliseconds(5));  // the other link untouched

  // A second PATCH keeps the first one's other key.
  r = call("PATCH", "/v1/links/video/outbound", R"({"delay": "30ms"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["loss"], "5%");
  EXPECT_EQ(outbound_delay("video"), std::chrono::milliseconds(30));

  r = call("PATCH", "/v1/links/video/outbound", R"({"delay": null, "loss": null})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(running(), render_profile(start_));
}

// Both directions in one PATCH of the link: one change (one generation), not two.
TEST_F(RoutesTest, PatchOfALinkChangesBothDirectionsAtOnce) {
  const uint64_t before = control_.view().generation;
  Response r =
      call("PATCH", "/v1/links/video",
           R"({"outbound": {"delay": "80ms"}, "inbound": {"delay": "7ms", "loss": null}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["outbound"]["delay"], "80ms");
  EXPECT_EQ(json::parse(r.body)["inbound"]["delay"], "7ms");
  EXPECT_EQ(outbound_delay("video"), std::chrono::milliseconds(80));
  EXPECT_EQ(loop_.profile().link("video").inbound.delay.delay, std::chrono::milliseconds(7));
  EXPECT_EQ(control_.view().generation, before + 1);
  // Refused whole: a bad key in one direction leaves the other as it was.
  r = call("PATCH", "/v1/links/video",
           R"({"outbound": {"delay": "1ms"}, "inbound": {"dealy": "1ms"}})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(outbound_delay("video"), std::chrono::milliseconds(80));
  EXPECT_EQ(control_.view().generation, before + 1);
  r = call("PATCH", "/v1/links/video", R"({"sideways": {}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(json::parse(r.body)["error"].get<std::string>(),
              HasSubstr("takes outbound and inbound"));
  EXPECT_EQ(call("PATCH", "/v1/links/video", R"({"outbound": 3})").status, 400);
  EXPECT_EQ(call("PATCH", "/v1/links/nope", R"({"outbound": {}})").status, 404);
  EXPECT_EQ(call("DELETE", "/v1/links/video").status, 405);
}

TEST_F(RoutesTest, PatchOnADirectionWithoutSection) {
  const Response r = call("PATCH", "/v1/links/video/inbound", R"({"delay": "7ms"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(loop_.profile().link("video").inbound.delay.delay, std::chrono::milliseconds(7));
}

TEST_F(RoutesTest, ResetGoesBackToTheStartProfile) {
  ASSERT_EQ(call("PATCH", "/v1/links/rest/inbound", R"({"loss": "20%"})").status, 200);
  const Response r = call("POST", "/v1/reset");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(running(), render_profile(start_));
}

TEST_F(RoutesTest, PutTakesTomlAndJson) {
  Response r =
      call("PUT", "/v1/profile", "[profile]\nname = \"other\"\n[outbound]\ndelay = \"3ms\"\n",
           "application/toml");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(loop_.profile().name, "other");
  r = call("PUT", "/v1/profile",
           R"({"profile": {"name": "j"}, "link": [{"name": "a", "outbound": {"delay": "9ms"}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(loop_.profile().name, "j");
  EXPECT_EQ(outbound_delay("a"), std::chrono::milliseconds(9));
}

TEST_F(RoutesTest, MalformedJsonIs400WithItsPosition) {
  const std::string before = running();
  const Response r = call("PATCH", "/v1/links/video/outbound", "{\n  \"delay\": \"80ms\",,\n}");
  EXPECT_EQ(r.status, 400);
  const json j = json::parse(r.body);
  EXPECT_EQ(j["line"], 2);
  EXPECT_GT(j["column"].get<int>(), 10);
  EXPECT_NE(j["error"].get<std::string>().find("invalid JSON"), std::string::npos);
  EXPECT_EQ(running(), before);
}

TEST_F(RoutesTest, MalformedTomlIs400WithItsPosition) {
  const std::string before = running();
  const Response r = call("PUT", "/v1/profile",
                          "[profile]\nname = \"x\"\n[outbound]\ndelay = = 3\n", "application/toml");
  EXPECT_EQ(r.status, 400) << r.body;
  const json j = json::parse(r.body);
  EXPECT_EQ(j["line"], 4);
  EXPECT_GT(j["column"].get<int>(), 0);
  EXPECT_EQ(running(), before);
}

TEST_F(RoutesTest, UnknownKeyGetsDidYouMean) {
  const std::string before = running();
  const Response r = call("PATCH", "/v1/links/video/outbound", R"({"dealy": "80ms"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(json::parse(r.body)["error"].get<std::string>().find("did you mean 'delay'"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(running(), before);
}

TEST_F(RoutesTest, OutOfRangeValueIs400) {
  const std::string before = running();
  for (const char* body :
       {R"({"loss": "150%"})", R"({"delay": "-3ms"})", R"({"delay": "2h"})", R"({"delay": 5})"}) {
    const Response r = call("PATCH", "/v1/links/video/outbound", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_FALSE(json::parse(r.body)["error"].get<std::string>().empty());
  }
  EXPECT_EQ(running(), before);
  EXPECT_EQ(loop_.applied(), 0U);
}

TEST_F(RoutesTest, UnknownLinkAndRouteAre404) {
  const std::string before = running();
  EXPECT_EQ(call("PATCH", "/v1/links/nope/outbound", R"({"delay": "1ms"})").status, 404);
  EXPECT_EQ(call("GET", "/v1/links/nope").status, 404);
  EXPECT_EQ(call("GET", "/v1/nothing").status, 404);
  EXPECT_EQ(call("GET", "/").status, 404);
  EXPECT_EQ(running(), before);
}

// A path that is not UTF-8 (the fuzzer's first find: its echo in the error made dump() throw,
// a 500): 404, with the bytes replaced in a body that parses.
TEST_F(RoutesTest, ATargetThatIsNotUtf8Is404) {
  for (const char* target : {"/v1/links\xfe\xff/video/outbound", "/v1/links/vid\xc3"}) {
    const Response r = call("GET", target);
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_TRUE(json::accept(r.body)) << r.body;
  }
}

// A number too large for a double is bad JSON, 400, not a 500 (the fuzzer's second find).
TEST_F(RoutesTest, ANumberThatOverflowsIs400) {
  const std::string before = running();
  for (const auto& [method, target] :
       {std::pair{"PUT", "/v1/profile"}, std::pair{"PATCH", "/v1/links/video/outbound"},
        std::pair{"POST", "/v1/links/video/outage"}}) {
    const Response r = call(method, target, R"({"delay": 1e999})");
    EXPECT_EQ(r.status, 400) << target << ": " << r.body;
    EXPECT_NE(r.body.find("number overflow"), std::string::npos) << r.body;
  }
  EXPECT_EQ(running(), before);
}

TEST_F(RoutesTest, WrongMethodIs405WithAllow) {
  const Response r = call("DELETE", "/v1/profile");
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1U);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "GET, PUT");
}

TEST_F(RoutesTest, BodyOverOneMebibyteIs413) {
  const std::string before = running();
  const std::string big(2 << 20, ' ');
  EXPECT_EQ(call("PUT", "/v1/profile", big, "application/toml").status, 413);
  EXPECT_EQ(running(), before);
}

TEST_F(RoutesTest, WrongContentTypeIs415) {
  EXPECT_EQ(call("PATCH", "/v1/links/video/outbound", R"({"delay": "1ms"})", "text/plain").status,
            415);
  EXPECT_EQ(call("PUT", "/v1/profile", "x", "application/xml").status, 415);
  EXPECT_EQ(call("PATCH", "/v1/links/video/outbound", R"({"delay": "1ms"})",
                 "application/json; charset=utf-8")
                .status,
            200);
}

TEST_F(RoutesTest, TokenIsRequiredWhenSet) {
  options_.token = "s3cret";
  EXPECT_EQ(call("GET", "/v1/profile").status, 401);
  authorization_ = "Bearer wrong!";
  EXPECT_EQ(call("GET", "/v1/profile").status, 401);
  const std::string before = running();
  EXPECT_EQ(call("PATCH", "/v1/links/video/outbound", R"({"delay": "1ms"})").status, 401);
  EXPECT_EQ(running(), before);
  authorization_ = "Bearer s3cret";
  EXPECT_EQ(call("GET", "/v1/profile").status, 200);
  authorization_.clear();
  EXPECT_EQ(call("GET", "/healthz").status, 200);  // the health check needs none
}

TEST_F(RoutesTest, APatchAfterASighupAppliesToTheReloadedProfile) {
  Profile reloaded = parse_profile(kTwoLinks, "two.toml");
  reloaded.name = "reloaded";
  loop_.reload(reloaded);
  const Response r = call("PATCH", "/v1/links/video/outbound", R"({"delay": "80ms"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(loop_.profile().name, "reloaded");
  EXPECT_EQ(outbound_delay("video"), std::chrono::milliseconds(80));
}

TEST_F(RoutesTest, LinksStatsAndMetrics) {
  Response r = call("GET", "/v1/links");
  ASSERT_EQ(r.status, 200);
  const json links = json::parse(r.body);
  ASSERT_EQ(links.size(), 2U);
  EXPECT_EQ(links[1]["name"], "rest");
  EXPECT_EQ(links[1]["inbound"]["loss"], "1%");
  EXPECT_TRUE(links[1]["stats"]["outbound"].contains("received"));
  r = call("GET", "/v1/stats");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(json::parse(r.body).contains("links"));
  r = call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("badlink_build_info{version=\"0.0-test\"} 1"), std::string::npos);
}

TEST(LoopControlViews, AreServedAgainButNeverFromBeforeAChange) {
  const Profile start = parse_profile(kTwoLinks, "two.toml");
  testing::FakeLoop loop(start);
  LoopControl control(loop.queue, start, std::chrono::milliseconds(5000), std::chrono::hours(1));
  EXPECT_EQ(control.view().generation, 0U);
  loop.reload(start);  // the loop moves on, unseen: the view is served again
  EXPECT_EQ(control.view().generation, 0U);
  Request r;
  r.method = "PATCH";
  r.target = "/v1/links/video/outbound";
  r.content_type = "application/json";
  r.body = R"({"delay": "44ms"})";
  ASSERT_EQ(route(r, control, {}).status, 200);
  EXPECT_EQ(control.view().profile.link("video").outbound.delay.delay,
            std::chrono::milliseconds(44));
  EXPECT_EQ(control.view().generation, 2U);
}

// An outage: started for a link, refused with its reason for bad input or no such link, and
// nothing else changed.
TEST_F(RoutesTest, AnOutageStartsOrIsRefused) {
  const std::string before = running();
  Response r = call("POST", "/v1/links/video/outage", R"({"duration": "2s", "mode": "hold"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(loop_.outages(), (std::vector<std::string>{"video"}));
  EXPECT_EQ(call("POST", "/v1/links/nope/outage", R"({"duration": "2s"})").status, 404);
  r = call("POST", "/v1/links/video/outage", R"({"duration": "-2s"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("duration"), std::string::npos) << r.body;
  EXPECT_EQ(call("POST", "/v1/links/video/outage", R"({"mode": "hold"})").status, 400);
  EXPECT_EQ(call("POST", "/v1/links/video/outage", R"({"duration": "1s", "mode": "flap"})").status,
            400);
  EXPECT_EQ(call("POST", "/v1/links/video/outage", R"({"duration": "1s", "durration": "1s"})").status,
            400);
  EXPECT_EQ(call("GET", "/v1/links/video/outage").status, 405);
  EXPECT_EQ(loop_.outages().size(), 1u);
  EXPECT_EQ(running(), before);
}

// The timeline: its start (none here: no schedule) and each link's place in it.
TEST_F(RoutesTest, TheTimelineIsShown) {
  const Response r = call("GET", "/v1/timeline");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = nlohmann::json::parse(r.body);
  EXPECT_TRUE(j.at("started_unix_ns").is_null());
  EXPECT_TRUE(j.at("links").at("video").at("step").is_null());
  EXPECT_TRUE(j.at("links").at("rest").at("steps_at").empty());
  EXPECT_FALSE(j.at("paused").get<bool>());
  EXPECT_TRUE(j.at("elapsed_ns").is_null());
  EXPECT_EQ(call("POST", "/v1/timeline").status, 405);
  for (const char* what : {"restart", "pause", "resume"}) {
    const Response refused = call("POST", std::string("/v1/timeline/") + what);
    EXPECT_EQ(refused.status, 409) << what;
    EXPECT_NE(
        json::parse(refused.body).at("error").get<std::string>().find("no link has a schedule"),
        std::string::npos)
        << refused.body;
  }
}

// Restart, pause and resume: each answers the timeline as it is after, a pause when paused and
// a resume when running are 409 with the reason, and the profile is not changed by any.
TEST_F(RoutesTest, TheTimelineRestartsPausesAndResumes) {
  loop_.reload(parse_profile(R"([profile]
name = "scheduled"
[outbound]
delay = "20ms"
[[schedule]]
at = "2s"
outbound = { delay = "80ms" }
)",
                             "scheduled.toml"));
  const std::string before = running();
  const auto timeline = [](const Response& r) { return json::parse(r.body); };
  Response r = call("GET", "/v1/timeline");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(timeline(r).at("paused").get<bool>());
  EXPECT_EQ(timeline(r).at("elapsed_ns"), 0);

  r = call("POST", "/v1/timeline/pause");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(timeline(r).at("paused").get<bool>());
  EXPECT_EQ(timeline(r).at("elapsed_ns"), 1'000'000'000);
  r = call("POST", "/v1/timeline/pause");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("paused already"), std::string::npos) << r.body;
  EXPECT_TRUE(timeline(call("GET", "/v1/timeline")).at("paused").get<bool>());

  r = call("POST", "/v1/timeline/resume");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(timeline(r).at("paused").get<bool>());
  r = call("POST", "/v1/timeline/resume");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("not paused"), std::string::npos) << r.body;

  r = call("POST", "/v1/timeline/restart");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(timeline(r).at("elapsed_ns"), 0);
  EXPECT_FALSE(timeline(r).at("paused").get<bool>());

  EXPECT_EQ(call("GET", "/v1/timeline/pause").status, 405);
  EXPECT_EQ(call("PUT", "/v1/timeline/restart").status, 405);
  EXPECT_EQ(call("POST", "/v1/timeline/rewind").status, 404);
  EXPECT_EQ(call("POST", "/v1/timeline/pause/now").status, 404);
  EXPECT_EQ(running(), before);
}

}  // namespace
}  // namespace badlink::api
