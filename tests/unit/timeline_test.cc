// Timeline: each link's phase at a moment after the start, and when it next changes --
// steps, outages that outlast a step, repeats.
#include "profile/timeline.hh"

#include <gtest/gtest.h>

#include <vector>

namespace badlink {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Profile scheduled() {
  return parse_profile(R"([profile]
name = "t"
[outbound]
delay = "20ms"
[[schedule]]
at = "10s"
outbound = { delay = "80ms", loss = "5%" }
[[schedule]]
at = "20s"
outage = { duration = "5s", mode = "hold", direction = "inbound" }
[[schedule]]
at = "22s"
outbound = { delay = "40ms" }
[schedule_options]
repeat = "30s"
)",
                       "t.toml");
}

Duration delay_of(const LinkPhase& p) { return p.configs[0].delay.delay; }

TEST(Timeline, EachStepFromItsTimeWithTheLinksOwnKeysBeneath) {
  const Profile profile = scheduled();
  const Timeline t(profile.links);
  EXPECT_FALSE(t.empty());
  EXPECT_EQ(delay_of(t.phase(0, seconds(0))), milliseconds(20));
  EXPECT_FALSE(t.phase(0, seconds(0)).step.has_value());
  EXPECT_EQ(delay_of(t.phase(0, seconds(10) - Duration{1})), milliseconds(20));
  const LinkPhase ten = t.phase(0, seconds(10));
  EXPECT_EQ(delay_of(ten), milliseconds(80));
  EXPECT_EQ(ten.step, 0u);
  EXPECT_TRUE(std::holds_alternative<BernoulliLoss>(ten.configs[0].loss));
  // The third step names only the delay: its loss is the link's own (none), not step 1's.
  const LinkPhase later = t.phase(0, seconds(23));
  EXPECT_EQ(delay_of(later), milliseconds(40));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(later.configs[0].loss));
}

TEST(Timeline, AnOutageLastsItsDurationAcrossTheNextStep) {
  const Profile profile = scheduled();
  const Timeline t(profile.links);
  EXPECT_EQ(t.phase(0, seconds(19)).outage[1], Outage::none);
  EXPECT_EQ(t.phase(0, seconds(20)).outage[1], Outage::hold);
  EXPECT_EQ(t.phase(0, seconds(20)).outage[0], Outage::none);  // inbound only
  EXPECT_EQ(t.phase(0, seconds(24)).outage[1], Outage::hold);  // past the 22 s step
  EXPECT_EQ(t.phase(0, seconds(25)).outage[1], Outage::none);
}

TEST(Timeline, ChangesComeInOrderAndRepeat) {
  const Profile profile = scheduled();
  const Timeline t(profile.links);
  std::vector<Duration> changes;
  Duration at{0};
  while (changes.size() < 10) {
    at = *t.next_change(at);
    changes.push_back(at);
  }
  EXPECT_EQ(changes, (std::vector<Duration>{seconds(10), seconds(20), seconds(22), seconds(25),
                                            seconds(30), seconds(40), seconds(50), seconds(52),
                                            seconds(55), seconds(60)}));
  EXPECT_EQ(delay_of(t.phase(0, seconds(31))), milliseconds(20));  // started again
  EXPECT_EQ(t.phase(0, seconds(41)).cycle, 1u);
}

TEST(Timeline, WithoutRepeatTheLastStepHolds) {
  const Profile profile = parse_profile(R"([profile]
name = "t"
[[schedule]]
at = "1s"
outbound = { delay = "5ms" }
)",
                                        "t.toml");
  const Timeline t(profile.links);
  EXPECT_EQ(t.next_change(Duration{0}), seconds(1));
  EXPECT_FALSE(t.next_change(seconds(1)).has_value());
  EXPECT_EQ(delay_of(t.phase(0, std::chrono::hours(100))), milliseconds(5));
}

TEST(Timeline, NoScheduleIsEmpty) {
  const Profile profile = parse_profile("[profile]\nname = \"t\"\n[outbound]\ndelay = \"1ms\"\n",
                                        "t.toml");
  const Timeline t(profile.links);
  EXPECT_TRUE(t.empty());
  EXPECT_FALSE(t.next_change(Duration{0}).has_value());
}

// Bad schedules: each problem with its position, nothing applied.
TEST(Timeline, BadSchedulesAreRefusedWithTheirPositions) {
  try {
    parse_profile(R"([profile]
name = "bad"
[outbound]
delay = "20ms"
[[schedule]]
at = "10s"
outbound = { delay = "-5ms", lost = "5%" }
[[schedule]]
at = "5s"
outbound = { delay = "1ms" }
[[schedule]]
at = "12s"
outage = { mode = "hold" }
[[schedule]]
at = "15s"
[schedule_options]
repeat = "3s"
)",
                  "bad.toml");
    FAIL() << "accepted";
  } catch (const ProfileError& e) {
    std::vector<std::string> got;
    for (const Diagnostic& d : e.diagnostics()) {
      got.push_back(d.to_string());
    }
    ASSERT_EQ(got.size(), 6u) << e.what();
    EXPECT_EQ(got[0], "bad.toml:7:22: schedule.outbound.delay: \"-5ms\" is negative; a duration is 0 or more");
    EXPECT_EQ(got[1], "bad.toml:7:30: unknown key 'schedule.outbound.lost'; did you mean 'loss'?");
    EXPECT_NE(got[2].find("bad.toml:9:6: schedule.at: steps must come in order of time"), std::string::npos);
    EXPECT_NE(got[3].find("bad.toml:13:10: schedule.outage: needs a duration"), std::string::npos);
    EXPECT_NE(got[4].find("bad.toml:14:1: this step changes nothing"), std::string::npos);
    EXPECT_NE(got[5].find("bad.toml:17:10: schedule_options.repeat: must be longer than the last step"), std::string::npos);
  }
}

// show prints the steps, and what it prints checks and means the same.
TEST(Timeline, ShowRoundTrips) {
  const Profile profile = scheduled();
  const Profile again = parse_profile(render_profile(profile), "shown.toml");
  ASSERT_EQ(again.links.front().schedule.steps.size(), 3u);
  const Timeline a(profile.links);
  const Timeline b(again.links);
  for (const Duration at : {seconds(0), seconds(10), seconds(21), seconds(23), seconds(26),
                            seconds(31)}) {
    EXPECT_EQ(a.phase(0, at), b.phase(0, at)) << at.count();
  }
}

}  // namespace
}  // namespace badlink
