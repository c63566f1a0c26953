// What verify decides before it measures: how the measuring time is shared out, and the
// profile badlink run is given (the one verified, without its match).
#include "probe/verifier.hh"

#include <gtest/gtest.h>

namespace badlink::probe {
namespace {

using namespace std::chrono_literals;

TEST(PlanBudget, HalfForDelayAThirdForLossATenthForThroughput) {
  const PlanBudget b = plan_budget(30);
  EXPECT_EQ(b.sparse, Duration(15s));
  EXPECT_EQ(b.dense, Duration(10s));
  EXPECT_EQ(b.rate, Duration(3s));
  EXPECT_EQ(plan_budget(600).rate, Duration(60s));
}

TEST(PlanBudget, ThroughputGetsTwoSecondsAtLeast) {
  const PlanBudget b = plan_budget(10);
  EXPECT_EQ(b.sparse, Duration(5s));
  EXPECT_EQ(b.dense.count(), 3'333'333'333);
  EXPECT_EQ(b.rate, Duration(2s));
}

TEST(RunProfileText, IsTheProfileWithoutItsMatch) {
  const Profile run = parse_profile(R"(
[profile]
name = "matched"
[match]
protocol = "udp"
ports = ["5000-5100"]
[outbound]
delay = "35ms"
loss = "2%"
[inbound]
delay = "25ms"
)",
                                    "matched.toml");
  ASSERT_NE(run.single_link().match, Match{});
  const Profile applied = parse_profile(run_profile_text(run), "rendered");
  EXPECT_EQ(applied.name, "matched");
  EXPECT_EQ(applied.single_link().match, Match{}) << "the probes are all the traffic there is";
  EXPECT_EQ(applied.single_link().outbound.delay.delay, Duration(35ms));
  EXPECT_EQ(applied.single_link().inbound.delay.delay, Duration(25ms));
  EXPECT_TRUE(std::holds_alternative<BernoulliLoss>(applied.single_link().outbound.loss));
}

}  // namespace
}  // namespace badlink::probe
