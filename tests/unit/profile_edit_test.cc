// with_direction_keys: keys set on a link's direction as a file would set them, checked the
// same way (did-you-mean, ranges, types), the classic form and [[link]]s alike; profile_json.
#include "profile/profile_edit.hh"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace badlink {
namespace {

using std::chrono::milliseconds;

constexpr const char* kClassic = R"([profile]
name = "c"
[outbound]
delay = "20ms"
loss = "1%"
)";

constexpr const char* kLinks = R"([profile]
name = "l"
[[link]]
name = "video"
match = { protocol = "udp", ports = [5000] }
outbound = { delay = "10ms" }
[[link]]
name = "rest"
)";

std::string first_message(const ProfileError& e) { return e.diagnostics().front().message; }

TEST(ProfileEdit, SetsKeysInTheClassicForm) {
  const Profile base = parse_profile(kClassic, "c.toml");
  const std::vector<DirectionKey> keys{{"default", Direction::outbound, "delay", "\"80ms\""},
                                       {"default", Direction::inbound, "loss", "\"5%\""}};
  const Profile p = with_direction_keys(base, keys, "c.toml");
  EXPECT_EQ(p.links[0].outbound.delay.delay, milliseconds(80));
  EXPECT_EQ(std::get<BernoulliLoss>(p.links[0].outbound.loss).p, 0.01);  // kept
  EXPECT_EQ(std::get<BernoulliLoss>(p.links[0].inbound.loss).p, 0.05);   // a new section
  EXPECT_EQ(p.name, "c");
  EXPECT_EQ(p.source, "c.toml");
}

TEST(ProfileEdit, SetsKeysOfOneLinkOnly) {
  const Profile base = parse_profile(kLinks, "l.toml");
  const std::vector<DirectionKey> keys{{"rest", Direction::outbound, "loss",
                                        R"({ model = "gilbert-elliott", p = "1%", r = "30%" })"},
                                       {"rest", Direction::outbound, "delay", "\"3ms\""}};
  const Profile p = with_direction_keys(base, keys, "l.toml");
  EXPECT_EQ(p.link("video").outbound.delay.delay, milliseconds(10));
  EXPECT_EQ(p.link("rest").outbound.delay.delay, milliseconds(3));
  EXPECT_TRUE(std::holds_alternative<GilbertElliottLoss>(p.link("rest").outbound.loss));
  EXPECT_EQ(p.link("video").match, base.link("video").match);
}

TEST(ProfileEdit, ChecksAsAFileIsChecked) {
  const Profile base = parse_profile(kLinks, "l.toml");
  const auto error_of = [&](std::string key, std::string value) {
    const std::vector<DirectionKey> keys{{"video", Direction::outbound, key, value}};
    try {
      with_direction_keys(base, keys, "l.toml");
    } catch (const ProfileError& e) {
      EXPECT_EQ(e.diagnostics().front().line, 0U);  // no position into generated text
      return first_message(e);
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("dealy", "\"5ms\"").find("did you mean 'delay'"), std::string::npos);
  EXPECT_NE(error_of("loss", "\"120%\"").find("loss"), std::string::npos);
  EXPECT_NE(error_of("delay", "5").find("delay"), std::string::npos);
  EXPECT_NE(error_of("delay", "= broken").find("outbound.delay"), std::string::npos);
  EXPECT_THROW(
      with_direction_keys(
          base, std::vector<DirectionKey>{{"nope", Direction::outbound, "delay", "\"1ms\""}},
          "l.toml"),
      std::out_of_range);
}

TEST(ProfileEdit, JsonHasTheRenderedKeys) {
  const nlohmann::json j = nlohmann::json::parse(profile_json(parse_profile(kLinks, "l.toml")));
  EXPECT_EQ(j["profile"]["name"], "l");
  ASSERT_EQ(j["link"].size(), 2U);
  EXPECT_EQ(j["link"][0]["outbound"]["delay"], "10ms");
  EXPECT_EQ(j["link"][0]["match"]["protocol"], "udp");
  EXPECT_FALSE(j["link"][1].contains("outbound"));  // a pass-through direction has no section
}

}  // namespace
}  // namespace badlink
