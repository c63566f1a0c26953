// Profile parsing: valid profiles to structs, every kind of bad input to positioned diagnostics,
// and render_profile() round trips.
#include "profile/profile.hh"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace badlink {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace std::chrono_literals;

std::vector<Diagnostic> errors_of(std::string_view text) {
  try {
    parse_profile(text, "test.toml");
  } catch (const ProfileError& e) {
    return e.diagnostics();
  }
  ADD_FAILURE() << "expected a ProfileError for:\n" << text;
  return {};
}

// The one diagnostic text produces; fails the test when there are more or none.
Diagnostic only_error(std::string_view text) {
  const auto all = errors_of(text);
  std::string listing;
  for (const auto& d : all) {
    listing += d.to_string() + "\n";
  }
  EXPECT_EQ(all.size(), 1u) << listing;
  return all.empty() ? Diagnostic{} : all.front();
}

// A valid profile with one [outbound] body, for the direction tests.
Profile with_outbound(std::string_view body) {
  return parse_profile("[profile]\nname = \"t\"\n[outbound]\n" + std::string(body), "test.toml");
}

// Field-by-field, since config.hh has no operator==.
void expect_same_direction(const DirectionConfig& a, const DirectionConfig& b) {
  EXPECT_EQ(a.delay.delay, b.delay.delay);
  EXPECT_EQ(a.delay.jitter, b.delay.jitter);
  EXPECT_EQ(a.delay.distribution, b.delay.distribution);
  EXPECT_EQ(a.delay.correlation, b.delay.correlation);
  EXPECT_EQ(a.delay.keep_order, b.delay.keep_order);
  ASSERT_EQ(a.loss.index(), b.loss.index());
  if (const auto* x = std::get_if<BernoulliLoss>(&a.loss)) {
    EXPECT_EQ(x->p, std::get<BernoulliLoss>(b.loss).p);
  }
  if (const auto* x = std::get_if<GilbertElliottLoss>(&a.loss)) {
    const auto& y = std::get<GilbertElliottLoss>(b.loss);
    EXPECT_EQ(x->p, y.p);
    EXPECT_EQ(x->r, y.r);
    EXPECT_EQ(x->h, y.h);
    EXPECT_EQ(x->k, y.k);
  }
  if (const auto* x = std::get_if<MarkovLoss>(&a.loss)) {
    const auto& y = std::get<MarkovLoss>(b.loss);
    EXPECT_EQ(x->p13, y.p13);
    EXPECT_EQ(x->p31, y.p31);
    EXPECT_EQ(x->p32, y.p32);
    EXPECT_EQ(x->p23, y.p23);
    EXPECT_EQ(x->p14, y.p14);
  }
  EXPECT_EQ(a.duplicate, b.duplicate);
  EXPECT_EQ(a.reorder, b.reorder);
  EXPECT_EQ(a.reorder_gap, b.reorder_gap);
  EXPECT_EQ(a.corrupt, b.corrupt);
  EXPECT_EQ(a.rate.bits_per_second, b.rate.bits_per_second);
  EXPECT_EQ(a.queue.packets, b.queue.packets);
  EXPECT_EQ(a.queue.bytes, b.queue.bytes);
}

void expect_same_profile(const Profile& a, const Profile& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.seed, b.seed);
  ASSERT_EQ(a.links.size(), b.links.size());
  for (std::size_t i = 0; i < a.links.size(); ++i) {
    const Link& x = a.links[i];
    const Link& y = b.links[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.match, y.match);
    EXPECT_EQ(x.has_outbound, y.has_outbound);
    EXPECT_EQ(x.has_inbound, y.has_inbound);
    expect_same_direction(x.outbound, y.outbound);
    expect_same_direction(x.inbound, y.inbound);
  }
}

constexpr std::string_view kFullProfile = R"([profile]
name = "lte-busy"
description = "A busy LTE cell"
seed = 7

[match]
protocol = "udp"
ports = [5000, "6000-6100"]
hosts = ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"]
interface = "eth0"

[outbound]
delay = "40ms"
jitter = "5ms"
distribution = "normal"
correlation = 0.25
keep_order = false
loss = { model = "gilbert-elliott", p = 0.01, r = 0.3, h = 0.1, k = 0.99 }
duplicate = 0.001
reorder = "2%"
reorder_gap = 5
corrupt = 0.0001
rate = "10mbit"
queue_limit = "64KB"

[inbound]
delay = "20ms"
loss = 0.01
rate = "2MB/s"
queue_limit = 500
)";

TEST(ParseProfile, FullProfile) {
  const Profile p = parse_profile(kFullProfile, "lte.toml");
  EXPECT_EQ(p.name, "lte-busy");
  EXPECT_EQ(p.description, "A busy LTE cell");
  EXPECT_EQ(p.seed, 7u);
  EXPECT_EQ(p.source, "lte.toml");

  EXPECT_EQ(p.links.at(0).match.protocol, Protocol::udp);
  ASSERT_EQ(p.links.at(0).match.ports.size(), 2u);
  EXPECT_EQ(p.links.at(0).match.ports[0], (PortRange{5000, 5000}));
  EXPECT_EQ(p.links.at(0).match.ports[1], (PortRange{6000, 6100}));
  ASSERT_EQ(p.links.at(0).match.hosts.size(), 3u);
  EXPECT_EQ(p.links.at(0).match.hosts[0].family, 4);
  EXPECT_EQ(p.links.at(0).match.hosts[0].prefix_length, 24);
  EXPECT_EQ(p.links.at(0).match.hosts[0].text, "192.0.2.0/24");
  EXPECT_THAT(std::vector<uint8_t>(p.links.at(0).match.hosts[0].address.begin(),
                                   p.links.at(0).match.hosts[0].address.begin() + 4),
              ElementsAre(192, 0, 2, 0));
  EXPECT_EQ(p.links.at(0).match.hosts[1].family, 6);
  EXPECT_EQ(p.links.at(0).match.hosts[1].prefix_length, 32);
  EXPECT_EQ(p.links.at(0).match.hosts[1].text, "2001:db8::/32");
  EXPECT_EQ(p.links.at(0).match.hosts[1].address[0], 0x20);
  EXPECT_EQ(p.links.at(0).match.hosts[1].address[1], 0x01);
  EXPECT_EQ(p.links.at(0).match.hosts[1].address[2], 0x0d);
  EXPECT_EQ(p.links.at(0).match.hosts[1].address[3], 0xb8);
  EXPECT_EQ(p.links.at(0).match.hosts[2].text, "198.51.100.7/32");
  EXPECT_EQ(p.links.at(0).match.hosts[2].prefix_length, 32);
  EXPECT_EQ(p.links.at(0).match.interface, "eth0");

  ASSERT_TRUE(p.links.at(0).has_outbound);
  const DirectionConfig& out = p.links.at(0).outbound;
  EXPECT_EQ(out.delay.delay, 40ms);
  EXPECT_EQ(out.delay.jitter, 5ms);
  EXPECT_EQ(out.delay.distribution, DelayDistribution::normal);
  EXPECT_EQ(out.delay.correlation, 0.25);
  EXPECT_FALSE(out.delay.keep_order);
  const auto& ge = std::get<GilbertElliottLoss>(out.loss);
  EXPECT_EQ(ge.p, 0.01);
  EXPECT_EQ(ge.r, 0.3);
  EXPECT_EQ(ge.h, 0.1);
  EXPECT_EQ(ge.k, 0.99);
  EXPECT_EQ(out.duplicate, 0.001);
  EXPECT_EQ(out.reorder, 0.02);
  EXPECT_EQ(out.reorder_gap, 5u);
  EXPECT_EQ(out.corrupt, 0.0001);
  EXPECT_EQ(out.rate.bits_per_second, 10'000'000u);
  EXPECT_EQ(out.queue.packets, 0u);
  EXPECT_EQ(out.queue.bytes, 64'000u);

  ASSERT_TRUE(p.links.at(0).has_inbound);
  const DirectionConfig& in = p.links.at(0).inbound;
  EXPECT_EQ(in.delay.delay, 20ms);
  EXPECT_EQ(in.delay.jitter, 0ms);
  EXPECT_EQ(in.delay.distribution, DelayDistribution::uniform);
  EXPECT_TRUE(in.delay.keep_order);
  EXPECT_EQ(std::get<BernoulliLoss>(in.loss).p, 0.01);
  EXPECT_EQ(in.rate.bits_per_second, 16'000'000u);
  EXPECT_EQ(in.queue.packets, 500u);
  EXPECT_EQ(in.queue.bytes, 0u);
  EXPECT_EQ(&p.links.at(0).direction(Direction::outbound), &p.links.at(0).outbound);
}

TEST(ParseProfile, MinimalProfileHasDefaults) {
  const Profile p = parse_profile("[profile]\nname = \"min\"\n", "min.toml");
  EXPECT_EQ(p.name, "min");
  EXPECT_FALSE(p.seed.has_value());
  EXPECT_EQ(p.links.at(0).match.protocol, Protocol::all);
  EXPECT_TRUE(p.links.at(0).match.ports.empty());
  EXPECT_TRUE(p.links.at(0).match.hosts.empty());
  EXPECT_TRUE(p.links.at(0).match.interface.empty());
  EXPECT_FALSE(p.links.at(0).has_outbound);
  EXPECT_FALSE(p.links.at(0).has_inbound);
  EXPECT_TRUE(p.links.at(0).outbound.is_passthrough());
  EXPECT_TRUE(p.links.at(0).inbound.is_passthrough());
  EXPECT_EQ(p.links.at(0).outbound.queue.packets, 1000u);
}

TEST(ParseProfile, EmptyDirectionSectionIsPresentButPassThrough) {
  const Profile p = with_outbound("");
  EXPECT_TRUE(p.links.at(0).has_outbound);
  EXPECT_TRUE(p.links.at(0).outbound.is_passthrough());
  EXPECT_TRUE(p.links.at(0).outbound.delay.keep_order);
}

TEST(ParseProfile, LossForms) {
  EXPECT_EQ(std::get<BernoulliLoss>(with_outbound("loss = 0.05\n").links.at(0).outbound.loss).p,
            0.05);
  EXPECT_EQ(std::get<BernoulliLoss>(with_outbound("loss = \"5%\"\n").links.at(0).outbound.loss).p,
            0.05);
  EXPECT_EQ(std::get<BernoulliLoss>(with_outbound("loss = 1\n").links.at(0).outbound.loss).p, 1.0);
  EXPECT_EQ(
      std::get<BernoulliLoss>(
          with_outbound("loss = { model = \"bernoulli\", p = 0.01 }\n").links.at(0).outbound.loss)
          .p,
      0.01);
  // No loss at all is no loss model, so the direction can stay a pass-through.
  EXPECT_TRUE(std::holds_alternative<std::monostate>(
      with_outbound("loss = 0\n").links.at(0).outbound.loss));

  const auto ge = std::get<GilbertElliottLoss>(
      with_outbound("loss = { model = \"gilbert-elliott\", p = 0.01, r = 0.3 }\n")
          .links.at(0)
          .outbound.loss);
  EXPECT_EQ(ge.p, 0.01);
  EXPECT_EQ(ge.r, 0.3);
  EXPECT_EQ(ge.h, 0.0);
  EXPECT_EQ(ge.k, 1.0);

  const auto gilbert = std::get<GilbertElliottLoss>(
      with_outbound("[outbound.loss]\nmodel = \"gilbert\"\np = \"1%\"\nr = \"30%\"\n")
          .links.at(0)
          .outbound.loss);
  EXPECT_EQ(gilbert.p, 0.01);
  EXPECT_EQ(gilbert.r, 0.3);
  EXPECT_EQ(gilbert.h, 0.0);
  EXPECT_EQ(gilbert.k, 1.0);

  const auto markov = std::get<MarkovLoss>(
      with_outbound("loss = { model = \"markov\", p13 = 0.1 }\n").links.at(0).outbound.loss);
  EXPECT_EQ(markov.p13, 0.1);
  EXPECT_EQ(markov.p31, 0.9);
  EXPECT_EQ(markov.p32, 0.0);
  EXPECT_EQ(markov.p23, 1.0);
  EXPECT_EQ(markov.p14, 0.0);

  const auto full = std::get<MarkovLoss>(
      with_outbound(
          "loss = { model = \"markov\", p13 = 0.7, p31 = 0.5, p32 = 0.5, p23 = 0.2, p14 = 0.3 }\n")
          .links.at(0)
          .outbound.loss);
  EXPECT_EQ(full.p13, 0.7);
  EXPECT_EQ(full.p31, 0.5);
  EXPECT_EQ(full.p32, 0.5);
  EXPECT_EQ(full.p23, 0.2);
  EXPECT_EQ(full.p14, 0.3);
}

TEST(ParseProfile, DelayEdgeCases) {
  EXPECT_EQ(with_outbound("delay = \"3600s\"\n").links.at(0).outbound.delay.delay, 1h);
  // jitter larger than the delay is allowed: delays are clamped at 0.
  const Profile p =
      with_outbound("delay = \"1ms\"\njitter = \"10ms\"\ndistribution = \"pareto\"\n");
  EXPECT_EQ(p.links.at(0).outbound.delay.jitter, 10ms);
  EXPECT_EQ(p.links.at(0).outbound.delay.distribution, DelayDistribution::pareto);
  EXPECT_EQ(with_outbound("jitter = \"1ms\"\ncorrelation = \"25%\"\n")
                .links.at(0)
                .outbound.delay.correlation,
            0.25);
}

TEST(ParseProfile, SingleValuesForPortsAndHosts) {
  const Profile p =
      parse_profile("[profile]\nname = \"t\"\n[match]\nports = 53\nhosts = \"::1\"\n", "t");
  EXPECT_THAT(p.links.at(0).match.ports, ElementsAre(PortRange{53, 53}));
  ASSERT_EQ(p.links.at(0).match.hosts.size(), 1u);
  EXPECT_EQ(p.links.at(0).match.hosts[0].text, "::1/128");
  EXPECT_EQ(p.links.at(0).match.hosts[0].address[15], 1);
}

// ---- errors: each names the position, the key and what is accepted ----

TEST(ProfileErrors, TypoInKeySuggestsTheKey) {
  const Diagnostic d = only_error(R"([profile]
name = "t"

[outbound]
jitter = "1ms"

dealy = "40ms"
)");
  EXPECT_EQ(d.file, "test.toml");
  EXPECT_EQ(d.line, 7u);
  EXPECT_EQ(d.column, 1u);
  EXPECT_EQ(d.message, "unknown key 'outbound.dealy'; did you mean 'delay'?");
  EXPECT_EQ(d.to_string(), "test.toml:7:1: unknown key 'outbound.dealy'; did you mean 'delay'?");
}

TEST(ProfileErrors, MisspeltKeyDoesNotCascade) {
  // Without "dealy" the reorder check would also complain that there is no delay.
  const Diagnostic d =
      only_error("[profile]\nname = \"t\"\n[outbound]\ndealy = \"4ms\"\nreorder = 0.1\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_THAT(d.message, HasSubstr("did you mean 'delay'?"));
}

TEST(ProfileErrors, ToolSynonymsSuggestOurKey) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n[outbound]\nlatency = \"40ms\"\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 1u);
  EXPECT_THAT(d.message, HasSubstr("did you mean 'delay'?"));
}

TEST(ProfileErrors, UnknownKeyWithoutSuggestionListsTheKeys) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n[outbound]\nwobble = 1\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.message,
            "unknown key 'outbound.wobble'; [outbound] takes delay, jitter, distribution, "
            "correlation, keep_order, loss, duplicate, reorder, reorder_gap, corrupt, rate, "
            "queue_limit, trace or slot");
}

TEST(ProfileErrors, KeyInTheWrongSectionNamesItsHome) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n[outbound]\nprotocol = \"udp\"\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.message, "unknown key 'outbound.protocol'; 'protocol' belongs in [match]");
}

TEST(ProfileErrors, UnknownSection) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n\n[outbond]\ndelay = \"4ms\"\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 1u);
  EXPECT_EQ(d.message, "unknown section [outbond]; did you mean [outbound]?");

  const Diagnostic other = only_error("[profile]\nname = \"t\"\n[shaper]\n");
  EXPECT_EQ(other.message,
            "unknown section [shaper]; a profile has the sections [profile], [match], "
            "[outbound], [inbound], [[link]], [[schedule]] or [schedule_options]");
}

TEST(ProfileErrors, UnknownSubtable) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n[outbound.extra]\nx = 1\n");
  EXPECT_EQ(d.line, 3u);
  EXPECT_EQ(d.column, 1u);
  EXPECT_THAT(d.message, StartsWith("unknown key 'outbound.extra'"));
}

TEST(ProfileErrors, KeyOutsideAnySection) {
  const Diagnostic d = only_error("delay = \"40ms\"\n[profile]\nname = \"t\"\n");
  EXPECT_EQ(d.line, 1u);
  EXPECT_EQ(d.column, 1u);
  EXPECT_EQ(d.message, "'delay' is outside any section; put it under [outbound] or [inbound]");

  const Diagnostic other = only_error("speed = 1\n[profile]\nname = \"t\"\n");
  EXPECT_THAT(other.message, StartsWith("unknown key 'speed' outside any section"));
}

TEST(ProfileErrors, SectionThatIsNotATable) {
  const Diagnostic d = only_error("outbound = 5\n[profile]\nname = \"t\"\n");
  EXPECT_EQ(d.line, 1u);
  EXPECT_EQ(d.message, "outbound: expected a table [outbound], got an integer");
}

TEST(ProfileErrors, WrongTypePointsAtTheValue) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n[outbound]\nkeep_order = \"yes\"\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 14u);
  EXPECT_EQ(d.message, "outbound.keep_order: expected true or false, got a string");
}

TEST(ProfileErrors, DurationWithoutUnit) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n[inbound]\ndelay = 40\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 9u);
  EXPECT_EQ(d.message,
            "inbound.delay: a duration needs a unit: write \"40ms\" (units: ns, us, ms, s)");
  EXPECT_THAT(only_error("[profile]\nname = \"t\"\n[inbound]\ndelay = \"40\"\n").message,
              HasSubstr("write e.g. \"40ms\""));
}

TEST(ProfileErrors, DurationBadValues) {
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\ndelay = \"-5ms\"\n").message,
            "outbound.delay: \"-5ms\" is negative; a duration is 0 or more");
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\njitter = \"5 fortnights\"\n").message,
            "outbound.jitter: \"5 fortnights\": unknown unit \"fortnights\"; a duration takes ns, "
            "us (or \xC2\xB5s), ms or s");
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\ndelay = \"3601s\"\n").message,
            "outbound.delay: \"3601s\" is longer than the maximum of 1 hour (\"3600s\")");
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\ndelay = true\n").message,
            "outbound.delay: expected a duration like \"40ms\", got a boolean");
}

TEST(ProfileErrors, ProbabilityAboveOneHintsPercent) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n[outbound]\nloss = 2\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 8u);
  EXPECT_EQ(d.message, "outbound.loss: 2 is more than 1; did you mean \"2%\"?");
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\nduplicate = \"101%\"\n").message,
            "outbound.duplicate: \"101%\" is more than 100%");
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\ncorrupt = -0.1\n").message,
            "outbound.corrupt: -0.1 is negative; a probability is 0..1");
}

TEST(ProfileErrors, AmbiguousRate) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n[outbound]\nrate = \"10mbps\"\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 8u);
  EXPECT_EQ(d.message,
            "outbound.rate: \"10mbps\" is ambiguous: write \"10mbit\" (10,000,000 bits/s) or "
            "\"10MB/s\" (80,000,000 bits/s)");
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\nrate = 10\n").message,
            "outbound.rate: a rate needs a unit: write \"10mbit\" (bits/s) or \"10MB/s\" "
            "(bytes/s)");
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\nrate = \"0kbit\"\n").message,
            "outbound.rate: \"0kbit\" is zero; leave the key out for no rate limit");
}

TEST(ProfileErrors, QueueLimit) {
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\nqueue_limit = 0\n").message,
            "outbound.queue_limit: 0 is out of range; expected a packet count of at least 1 or "
            "a size like \"64KB\"");
  EXPECT_THAT(only_error("[profile]\nname = \"t\"\n[outbound]\nqueue_limit = \"64kb\"\n").message,
              HasSubstr("outbound.queue_limit: \"64kb\": unknown unit \"kb\""));
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\nqueue_limit = 1.5\n").message,
            "outbound.queue_limit: expected a packet count like 1000 or a size like \"64KB\", got "
            "a float");
}

TEST(ProfileErrors, ReorderNeedsDelay) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n[outbound]\nreorder = 0.1\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 11u);
  EXPECT_THAT(d.message, StartsWith("outbound.reorder: needs outbound.delay > 0"));
}

TEST(ProfileErrors, ReorderGapNeedsReorder) {
  const Diagnostic d =
      only_error("[profile]\nname = \"t\"\n[outbound]\ndelay = \"10ms\"\nreorder_gap = 5\n");
  EXPECT_EQ(d.line, 5u);
  EXPECT_EQ(d.column, 15u);
  EXPECT_EQ(d.message, "outbound.reorder_gap: needs outbound.reorder > 0");
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\ndelay = \"1ms\"\nreorder = 0.1\n"
                       "reorder_gap = 0\n")
                .message,
            "outbound.reorder_gap: 0 is out of range; expected an integer 1..4294967295");
}

TEST(ProfileErrors, DistributionAndCorrelationNeedJitter) {
  const auto all = errors_of(
      "[profile]\nname = \"t\"\n[outbound]\ndelay = \"10ms\"\ndistribution = \"normal\"\n"
      "correlation = 0.5\n");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].line, 5u);
  EXPECT_THAT(all[0].message, StartsWith("outbound.distribution: needs outbound.jitter > 0"));
  EXPECT_EQ(all[1].line, 6u);
  EXPECT_THAT(all[1].message, StartsWith("outbound.correlation: needs outbound.jitter > 0"));
}

TEST(ProfileErrors, UnknownChoicesSuggest) {
  EXPECT_EQ(only_error(
                "[profile]\nname = \"t\"\n[outbound]\njitter = \"1ms\"\ndistribution = \"gauss\"\n")
                .message,
            "outbound.distribution: \"gauss\" is not one of \"uniform\", \"normal\", \"pareto\" or "
            "\"paretonormal\"");
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\njitter = \"1ms\"\n"
                       "distribution = \"paretonormall\"\n")
                .message,
            "outbound.distribution: \"paretonormall\" is not one of \"uniform\", \"normal\", "
            "\"pareto\" or \"paretonormal\"; did you mean \"paretonormal\"?");
  EXPECT_THAT(only_error("[profile]\nname = \"t\"\n[match]\nprotocol = \"UDP\"\n").message,
              HasSubstr("did you mean \"udp\"?"));
}

TEST(ProfileErrors, LossTables) {
  const Diagnostic missing_model =
      only_error("[profile]\nname = \"t\"\n[outbound]\nloss = { p = 0.1 }\n");
  EXPECT_EQ(missing_model.line, 4u);
  EXPECT_EQ(missing_model.column, 8u);
  EXPECT_EQ(missing_model.message,
            "outbound.loss: a loss table needs model = \"bernoulli\", \"gilbert-elliott\", "
            "\"gilbert\" or \"markov\"");

  const Diagnostic typo_model = only_error(
      "[profile]\nname = \"t\"\n[outbound]\nloss = { model = \"gilbert-eliot\", p = 0.1 }\n");
  EXPECT_EQ(typo_model.column, 18u);
  EXPECT_THAT(typo_model.message, StartsWith("outbound.loss.model: \"gilbert-eliot\" is not one"));
  EXPECT_THAT(typo_model.message, HasSubstr("did you mean \"gilbert-elliott\"?"));

  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\n"
                       "loss = { model = \"gilbert-elliott\", p = 0.1 }\n")
                .message,
            "outbound.loss: model \"gilbert-elliott\" needs r (outbound.loss.r is missing)");

  const Diagnostic gilbert_h = only_error(
      "[profile]\nname = \"t\"\n[outbound]\nloss = { model = \"gilbert\", p = 0.1, r = 0.5, h = "
      "0.2 }\n");
  EXPECT_EQ(gilbert_h.column, 47u);
  EXPECT_THAT(gilbert_h.message,
              StartsWith("outbound.loss.h: not allowed with model \"gilbert\", which fixes h = 0"));

  // Both problems of the table: p is missing, and q is probably p.
  const auto typo_key =
      errors_of("[profile]\nname = \"t\"\n[outbound]\nloss = { model = \"bernoulli\", q = 0.1 }\n");
  ASSERT_EQ(typo_key.size(), 2u);
  EXPECT_EQ(typo_key[0].column, 8u);
  EXPECT_EQ(typo_key[0].message,
            "outbound.loss: model \"bernoulli\" needs p (outbound.loss.p is missing)");
  EXPECT_EQ(typo_key[1].column, 31u);
  EXPECT_EQ(typo_key[1].message, "unknown key 'outbound.loss.q'; did you mean 'p'?");

  const Diagnostic bad_p =
      only_error("[profile]\nname = \"t\"\n[outbound]\nloss = { model = \"bernoulli\", p = 3 }\n");
  EXPECT_EQ(bad_p.message, "outbound.loss.p: 3 is more than 1; did you mean \"3%\"?");

  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\n"
                       "loss = { model = \"markov\", p13 = 0.8, p14 = 0.3 }\n")
                .message,
            "outbound.loss: p13 + p14 = 1.1 is more than 1 (they leave state 1 together)");
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[outbound]\n"
                       "loss = { model = \"markov\", p13 = 0.2, p32 = 0.5 }\n")
                .message,
            "outbound.loss: p31 + p32 = 1.3 is more than 1 (they leave state 3 together; p31 "
            "defaults to 1 - p13)");
  EXPECT_THAT(only_error("[profile]\nname = \"t\"\n[outbound]\n"
                         "loss = { model = \"markov\", p31 = 0.2 }\n")
                  .message,
              HasSubstr("needs p13"));
  EXPECT_THAT(only_error("[profile]\nname = \"t\"\n[outbound]\nloss = [0.1]\n").message,
              StartsWith("outbound.loss: expected a probability or a table"));
}

TEST(ProfileErrors, ProfileSection) {
  const Diagnostic no_name = only_error("\n[profile]\ndescription = \"x\"\n");
  EXPECT_EQ(no_name.line, 2u);
  EXPECT_EQ(no_name.column, 1u);
  EXPECT_THAT(no_name.message, StartsWith("profile.name is missing"));

  const Diagnostic no_table = only_error("[outbound]\ndelay = \"1ms\"\n");
  EXPECT_EQ(no_table.line, 1u);
  EXPECT_EQ(no_table.column, 1u);
  EXPECT_THAT(no_table.message, StartsWith("profile.name is missing"));

  EXPECT_EQ(only_error("[profile]\nname = \"\"\n").message, "profile.name: must not be empty");
  EXPECT_EQ(only_error("[profile]\nname = 5\n").message,
            "profile.name: expected a string, got an integer");

  const Diagnostic seed = only_error("[profile]\nname = \"t\"\nseed = -1\n");
  EXPECT_EQ(seed.line, 3u);
  EXPECT_EQ(seed.column, 8u);
  EXPECT_EQ(seed.message,
            "profile.seed: -1 is out of range; expected an integer 0..9223372036854775807");
}

TEST(ProfileErrors, MatchSection) {
  const auto all = errors_of(R"([profile]
name = "t"
[match]
ports = [0, 70000, "6100-6000", "x", 5000]
hosts = ["192.0.2.1/24", "2001:db8::1/32", "300.1.1.1", "10.0.0.0/33"]
interface = "a-very-long-interface-name"
)");
  ASSERT_EQ(all.size(), 9u);
  EXPECT_EQ(all[0].line, 4u);
  EXPECT_EQ(all[0].column, 10u);
  EXPECT_EQ(all[0].message,
            "match.ports[0]: 0 is not a port; expected a port 1..65535 or a range like "
            "\"6000-6100\"");
  EXPECT_EQ(all[1].column, 13u);
  EXPECT_THAT(all[1].message, StartsWith("match.ports[1]: 70000 is not a port"));
  EXPECT_EQ(all[2].message, "match.ports[2]: \"6100-6000\" is reversed; write \"6000-6100\"");
  EXPECT_THAT(all[3].message, StartsWith("match.ports[3]: \"x\" is not a port or port range"));
  EXPECT_EQ(all[4].line, 5u);
  EXPECT_EQ(all[4].column, 10u);
  EXPECT_EQ(all[4].message,
            "match.hosts[0]: \"192.0.2.1/24\" has host bits set beyond the /24 prefix; did you "
            "mean \"192.0.2.0/24\"?");
  EXPECT_THAT(all[5].message, HasSubstr("did you mean \"2001:db8::/32\"?"));
  EXPECT_THAT(all[6].message,
              StartsWith("match.hosts[2]: \"300.1.1.1\" is not an address or CIDR like"));
  EXPECT_EQ(all[7].message,
            "match.hosts[3]: \"10.0.0.0/33\": the prefix length must be 0..32 for IPv4");
  EXPECT_EQ(all[8].line, 6u);
  EXPECT_EQ(all[8].message,
            "match.interface: \"a-very-long-interface-name\" is longer than 15 characters, the "
            "Linux limit");
}

TEST(ProfileErrors, MatchInterfaceAndPorts) {
  EXPECT_THAT(only_error("[profile]\nname = \"t\"\n[match]\ninterface = \"eth0:1\"\n").message,
              HasSubstr("is not a valid interface name"));
  EXPECT_THAT(only_error("[profile]\nname = \"t\"\n[match]\ninterface = \"\"\n").message,
              HasSubstr("must not be empty"));
  EXPECT_EQ(
      only_error("[profile]\nname = \"t\"\n[match]\nprotocol = \"icmp\"\nports = [53]\n").message,
      "match.ports: ports need protocol \"tcp\", \"udp\" or \"all\"; ICMP has no ports");
}

TEST(ProfileErrors, AllProblemsCollectedInSourceOrder) {
  const auto all = errors_of(R"([profile]
name = "multi"
seed = -3

[outbound]
delay = 40
jiter = "5ms"
loss = 5
rate = "10mbps"

[inbund]
)");
  ASSERT_EQ(all.size(), 6u);
  EXPECT_THAT(all[0], AllOf(Field(&Diagnostic::line, 3u), Field(&Diagnostic::column, 8u)));
  EXPECT_THAT(all[1], AllOf(Field(&Diagnostic::line, 6u), Field(&Diagnostic::column, 9u)));
  EXPECT_THAT(all[2], AllOf(Field(&Diagnostic::line, 7u), Field(&Diagnostic::column, 1u),
                            Field(&Diagnostic::message, HasSubstr("did you mean 'jitter'?"))));
  EXPECT_THAT(all[3], Field(&Diagnostic::message, HasSubstr("did you mean \"5%\"?")));
  EXPECT_THAT(all[4], Field(&Diagnostic::message, HasSubstr("is ambiguous")));
  EXPECT_THAT(all[5], AllOf(Field(&Diagnostic::line, 11u),
                            Field(&Diagnostic::message, HasSubstr("did you mean [inbound]?"))));

  try {
    parse_profile("[profile]\nname = \"x\"\nseed = -3\n[outbound]\ndelay = 40\n", "m.toml");
    FAIL();
  } catch (const ProfileError& e) {
    EXPECT_THAT(std::string(e.what()), StartsWith("m.toml:3:8: profile.seed: -3 is out of range"));
    EXPECT_THAT(std::string(e.what()), HasSubstr("\nm.toml:5:9: outbound.delay:"));
  }
}

TEST(ProfileErrors, MalformedToml) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n[outbound]\ndelay = = \"4ms\"\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 9u);
  EXPECT_THAT(d.message, StartsWith("invalid TOML: "));

  const Diagnostic dup = only_error("[profile]\nname = \"a\"\nname = \"b\"\n");
  EXPECT_EQ(dup.line, 3u);
  EXPECT_THAT(dup.message, HasSubstr("name"));
}

TEST(LoadProfile, MissingFile) {
  try {
    load_profile("/nonexistent/badlink/profile.toml");
    FAIL();
  } catch (const ProfileError& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u);
    const Diagnostic& d = e.diagnostics()[0];
    EXPECT_EQ(d.line, 0u);
    EXPECT_EQ(d.to_string(),
              "/nonexistent/badlink/profile.toml: cannot read: No such file or directory");
  }
}

TEST(LoadProfile, Directory) {
  try {
    load_profile(std::filesystem::temp_directory_path());
    FAIL();
  } catch (const ProfileError& e) {
    EXPECT_THAT(e.diagnostics().at(0).message, HasSubstr("cannot read: Is a directory"));
  }
}

TEST(LoadProfile, ReadsAFileAndNamesItInErrors) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto good = dir / ("badlink_profile_test_good_" + std::to_string(getpid()) + ".toml");
  const auto bad = dir / ("badlink_profile_test_bad_" + std::to_string(getpid()) + ".toml");
  std::ofstream(good) << kFullProfile;
  std::ofstream(bad) << "[profile]\nname = \"t\"\n[outbound]\ndealy = \"1ms\"\n";
  const Profile p = load_profile(good);
  EXPECT_EQ(p.name, "lte-busy");
  EXPECT_EQ(p.source, good.string());
  try {
    load_profile(bad);
    ADD_FAILURE();
  } catch (const ProfileError& e) {
    EXPECT_EQ(e.diagnostics().at(0).to_string(),
              bad.string() + ":4:1: unknown key 'outbound.dealy'; did you mean 'delay'?");
  }
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

// ---- render_profile ----

void expect_round_trip(std::string_view text) {
  SCOPED_TRACE(text);
  const Profile first = parse_profile(text, "first.toml");
  const std::string rendered = render_profile(first);
  SCOPED_TRACE(rendered);
  const Profile second = parse_profile(rendered, "rendered.toml");
  expect_same_profile(first, second);
  EXPECT_EQ(render_profile(second), rendered);
}

TEST(RenderProfile, RoundTrips) {
  expect_round_trip(kFullProfile);
  expect_round_trip("[profile]\nname = \"min\"\n");
  expect_round_trip("[profile]\nname = \"empty outbound\"\n[outbound]\n");
  expect_round_trip(R"([profile]
name = "markov \"quoted\" \\ name"
description = "tab\there"
[match]
protocol = "tcp"
hosts = ["2001:db8:0:0::/64"]
[inbound]
delay = "1.5s"
jitter = "123456ns"
distribution = "paretonormal"
correlation = 0.1
loss = { model = "markov", p13 = 0.1, p32 = 0.05 }
reorder = 0.3333333333333333
corrupt = "0.001%"
rate = "1.5mibit"
queue_limit = "1MiB"
)");
  expect_round_trip(R"([profile]
name = "gilbert"
[outbound]
loss = { model = "gilbert", p = 0.07, r = 0.1 }
duplicate = 1
rate = "100kB/s"
queue_limit = 1
)");
}

TEST(RenderProfile, ReadableUnitsAndDefaults) {
  const std::string text = render_profile(parse_profile(R"([profile]
name = "r"
[outbound]
delay = "40ms"
loss = 0.01
rate = "10mbit"
)",
                                                        "r.toml"));
  EXPECT_THAT(text, HasSubstr("[outbound]\ndelay = \"40ms\"\njitter = \"0ms\"\n"));
  EXPECT_THAT(text, HasSubstr("loss = \"1%\"\n"));
  EXPECT_THAT(text, HasSubstr("rate = \"10mbit\"\n"));
  EXPECT_THAT(text, HasSubstr("keep_order = true\n"));
  EXPECT_THAT(text, HasSubstr("queue_limit = 1000\n"));
  EXPECT_THAT(text, HasSubstr("protocol = \"all\"\n"));
  EXPECT_THAT(text, HasSubstr("# no [inbound] section: packets pass unimpaired"));
  EXPECT_THAT(text, Not(HasSubstr("[inbound]\n")));

  const std::string ge =
      render_profile(with_outbound("loss = { model = \"gilbert-elliott\", p = 0.01, r = 0.3 }\n"));
  EXPECT_THAT(ge, HasSubstr("loss = { model = \"gilbert-elliott\", p = \"1%\", r = \"30%\", h = "
                            "\"0%\", k = \"100%\" }\n"));
}

// Links: the [[link]] form, its errors, and render's account of who gets what.

constexpr std::string_view kOffice = R"([profile]
name = "office"

[[link]]
name = "video"
match = { protocol = "udp", ports = ["5000-5100"] }
outbound = { delay = "80ms", loss = "1%" }
inbound = { delay = "80ms", rate = "2mbit" }

[[link]]
name = "api"
[link.match]
protocol = "tcp"
ports = [443]
hosts = ["192.0.2.0/24"]
[link.outbound]
delay = "30ms"

[[link]]
name = "rest"
outbound = { delay = "20ms" }
)";

TEST(ParseLinks, LinksInFileOrder) {
  const Profile p = parse_profile(kOffice, "office.toml");
  ASSERT_EQ(p.links.size(), 3u);
  const Link& video = p.links[0];
  EXPECT_EQ(video.name, "video");
  EXPECT_EQ(video.position.line, 4u);
  EXPECT_EQ(video.position.column, 1u);
  EXPECT_EQ(video.match.protocol, Protocol::udp);
  EXPECT_THAT(video.match.ports, ElementsAre(PortRange{5000, 5100}));
  EXPECT_TRUE(video.has_outbound);
  EXPECT_TRUE(video.has_inbound);
  EXPECT_EQ(video.outbound.delay.delay, 80ms);
  EXPECT_EQ(std::get<BernoulliLoss>(video.outbound.loss).p, 0.01);
  EXPECT_EQ(video.inbound.rate.bits_per_second, 2'000'000u);

  const Link& api = p.link("api");
  EXPECT_EQ(&api, &p.links[1]);
  EXPECT_EQ(api.position.line, 10u);
  EXPECT_EQ(api.match.protocol, Protocol::tcp);
  ASSERT_EQ(api.match.hosts.size(), 1u);
  EXPECT_EQ(api.match.hosts[0].text, "192.0.2.0/24");
  EXPECT_EQ(api.outbound.delay.delay, 30ms);
  EXPECT_FALSE(api.has_inbound);

  const Link& rest = p.links[2];
  EXPECT_EQ(rest.name, "rest");
  EXPECT_EQ(rest.match, Match{});
  EXPECT_EQ(rest.outbound.delay.delay, 20ms);
  EXPECT_FALSE(rest.has_inbound);
  EXPECT_TRUE(rest.inbound.is_passthrough());

  EXPECT_THROW((void)p.link("nope"), std::out_of_range);
  EXPECT_THROW((void)p.single_link(), std::logic_error);
}

TEST(ParseLinks, ClassicFormIsOneLinkNamedDefault) {
  const Profile p = parse_profile(kFullProfile, "full.toml");
  ASSERT_EQ(p.links.size(), 1u);
  EXPECT_EQ(p.single_link().name, "default");
  EXPECT_EQ(&p.link("default"), &p.links[0]);
  EXPECT_EQ(p.links[0].position.line, 6u);  // its first section, [match]
  EXPECT_EQ(p.links[0].match.interface, "eth0");

  const Profile bare = parse_profile("[profile]\nname = \"b\"\n", "b.toml");
  ASSERT_EQ(bare.links.size(), 1u);
  EXPECT_EQ(bare.links[0].name, "default");
  EXPECT_EQ(bare.links[0].position.line, 0u);
}

TEST(ParseLinks, OneLinkAndInlineArrayForm) {
  const Profile p = parse_profile(
      "[profile]\nname = \"t\"\n[[link]]\nname = \"only-1_a\"\ninbound = { delay = \"5ms\" }\n",
      "t.toml");
  EXPECT_EQ(p.single_link().name, "only-1_a");
  EXPECT_EQ(p.single_link().inbound.delay.delay, 5ms);
  EXPECT_FALSE(p.single_link().has_outbound);
}

TEST(LinkErrors, MixingFormsNamesBothPlaces) {
  const auto all = errors_of(R"([profile]
name = "t"
[outbound]
delay = "1ms"
[[link]]
name = "a"
[match]
protocol = "udp"
)");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].line, 3u);
  EXPECT_EQ(all[0].column, 1u);
  EXPECT_THAT(all[0].message,
              AllOf(StartsWith("[outbound] cannot be used beside [[link]] (test.toml:5:1)"),
                    HasSubstr("move it into a [[link]]")));
  EXPECT_EQ(all[1].line, 7u);
  EXPECT_THAT(all[1].message, StartsWith("[match] cannot be used beside [[link]]"));
}

TEST(LinkErrors, MissingName) {
  const Diagnostic d =
      only_error("[profile]\nname = \"t\"\n\n[[link]]\noutbound = { delay = \"1ms\" }\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 1u);
  EXPECT_EQ(d.message, "link.name is missing: every [[link]] needs a name, e.g. name = \"video\"");
}

TEST(LinkErrors, BadNameSaysWhatANameMayHold) {
  const Diagnostic d = only_error("[profile]\nname = \"t\"\n[[link]]\nname = \"Video call\"\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 8u);
  EXPECT_EQ(d.message,
            "link.name: \"Video call\" is not a valid link name: use lowercase letters a-z, "
            "digits 0-9, '_' and '-'");
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[[link]]\nname = \"\"\n").line, 4u);
  EXPECT_THAT(only_error("[profile]\nname = \"t\"\n[[link]]\nname = 3\n").message,
              HasSubstr("expected a string"));
}

TEST(LinkErrors, DuplicateNamesNameBothPlaces) {
  const Diagnostic d = only_error(R"([profile]
name = "t"
[[link]]
name = "video"
match = { protocol = "udp" }
[[link]]
  name = "video"
match = { protocol = "tcp" }
)");
  EXPECT_EQ(d.line, 7u);
  EXPECT_EQ(d.column, 10u);
  EXPECT_EQ(d.message,
            "link.name: \"video\" is already the name of the link at test.toml:4:8; link names "
            "must be unique");
}

TEST(LinkErrors, ShadowedLinkNamesBothPlaces) {
  const Diagnostic d = only_error(R"([profile]
name = "t"

[[link]]
name = "rest"

[[link]]
name = "video"
match = { protocol = "udp", ports = [5000] }
)");
  EXPECT_EQ(d.line, 7u);
  EXPECT_EQ(d.column, 1u);
  EXPECT_EQ(d.message,
            "link \"video\" never gets a packet: link \"rest\" (test.toml:4:1) comes first and "
            "matches everything it matches (udp, port 5000); put \"video\" before \"rest\" or "
            "narrow \"rest\"'s match");
}

// Each pair: an earlier match that takes every packet of the later one (an error), or not.
TEST(LinkErrors, ShadowsFollowTheRulesSets) {
  const auto profile = [](std::string_view first, std::string_view second) {
    return "[profile]\nname = \"t\"\n[[link]]\nname = \"a\"\nmatch = { " + std::string(first) +
           " }\n[[link]]\nname = \"b\"\nmatch = { " + std::string(second) + " }\n";
  };
  struct Case {
    std::string_view first;
    std::string_view second;
    bool shadowed;
  };
  const Case cases[] = {
      {"protocol = \"udp\"", "protocol = \"udp\", ports = [53]", true},
      {"protocol = \"udp\", ports = [53]", "protocol = \"udp\"", false},  // fragments, port 9
      {"ports = [\"1-100\", \"101-200\"]", "protocol = \"tcp\", ports = [\"50-150\"]", true},
      {"ports = [\"1-100\", \"102-200\"]", "protocol = \"tcp\", ports = [\"50-150\"]", false},
      {"protocol = \"udp\", ports = [53]", "ports = [53]", false},  // tcp 53 gets through
      {"protocol = \"tcp\"", "protocol = \"udp\"", false},
      {"ports = [80]", "protocol = \"icmp\"", false},
      {"hosts = [\"10.0.0.0/9\", \"10.128.0.0/9\"]", "hosts = [\"10.0.0.0/8\"]", true},
      {"hosts = [\"10.0.0.0/9\", \"10.192.0.0/10\"]", "hosts = [\"10.0.0.0/8\"]", false},
      {"hosts = [\"0.0.0.0/0\"]", "hosts = [\"192.0.2.1\"]", true},
      {"hosts = [\"0.0.0.0/0\"]", "protocol = \"udp\"", false},  // IPv6 is not in a
      {"hosts = [\"0.0.0.0/0\", \"::/0\"]", "protocol = \"udp\"", true},
      {"hosts = [\"192.0.2.0/24\"]", "hosts = [\"2001:db8::/32\"]", false},
      {"hosts = [\"2001:db8::/32\"]", "hosts = [\"2001:db8:1::/48\", \"2001:db8:2::1\"]", true},
      {"interface = \"eth0\"", "interface = \"eth0\", protocol = \"tcp\"", true},
      {"interface = \"eth0\"", "protocol = \"tcp\"", false},
      {"protocol = \"all\"", "interface = \"eth1\"", true},
  };
  for (const Case& c : cases) {
    const std::string text = profile(c.first, c.second);
    if (c.shadowed) {
      EXPECT_THAT(only_error(text).message, HasSubstr("never gets a packet")) << text;
    } else {
      EXPECT_NO_THROW(parse_profile(text, "t.toml")) << text;
    }
  }
}

TEST(LinkErrors, UnknownKeysInALink) {
  const auto all = errors_of(R"([profile]
name = "t"
[[link]]
nmae = "a"
delay = "1ms"
protocol = "udp"
[link.outbound]
dealy = "2ms"
)");
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].line, 3u);  // the name is missing
  EXPECT_EQ(all[1].message, "unknown key 'link.nmae'; did you mean 'name'?");
  EXPECT_EQ(all[1].line, 4u);
  EXPECT_EQ(all[2].message,
            "unknown key 'link.delay'; 'delay' belongs in link.outbound or "
            "link.inbound");
  EXPECT_EQ(all[3].message, "unknown key 'link.protocol'; 'protocol' belongs in link.match");
  EXPECT_EQ(all[4].line, 8u);
  EXPECT_EQ(all[4].message, "unknown key 'link.outbound.dealy'; did you mean 'delay'?");

  const Diagnostic in_match =
      only_error("[profile]\nname = \"t\"\n[[link]]\nname = \"a\"\nmatch = { proto = \"udp\" }\n");
  EXPECT_EQ(in_match.line, 5u);
  EXPECT_EQ(in_match.column, 11u);
  EXPECT_EQ(in_match.message, "unknown key 'link.match.proto'; did you mean 'protocol'?");

  const Diagnostic value =
      only_error("[profile]\nname = \"t\"\n[[link]]\nname = \"a\"\noutbound = { delay = \"5\" }\n");
  EXPECT_EQ(value.line, 5u);
  EXPECT_THAT(value.message, StartsWith("link.outbound.delay: "));
}

TEST(LinkErrors, LinkWrittenAsATableOrValue) {
  const Diagnostic table = only_error("[profile]\nname = \"t\"\n[link]\nname = \"a\"\n");
  EXPECT_EQ(table.line, 3u);
  EXPECT_EQ(table.message,
            "[link] is a single table; links are written [[link]] (two brackets), one per link");
  const Diagnostic value = only_error("link = 4\n[profile]\nname = \"t\"\n");
  EXPECT_EQ(value.line, 1u);
  EXPECT_THAT(value.message, StartsWith("link: expected [[link]] tables"));
  EXPECT_EQ(only_error("[profile]\nname = \"t\"\n[links]\n").message,
            "unknown section [links]; did you mean [[link]]?");
  EXPECT_THAT(
      only_error("[profile]\nname = \"t\"\n[[link]]\nname = \"a\"\nmatch = \"udp\"\n").message,
      StartsWith("link.match: expected a table like"));
}

TEST(RenderProfile, LinksRoundTripAndSayWhoGetsWhat) {
  expect_round_trip(kOffice);
  expect_round_trip("[profile]\nname = \"one\"\n[[link]]\nname = \"x\"\n");
  expect_round_trip("[profile]\nname = \"named default\"\n[[link]]\nname = \"default\"\n");
  const std::string text = render_profile(parse_profile(kOffice, "office.toml"));
  EXPECT_THAT(text, HasSubstr("\n[[link]]\nname = \"video\"\n# gets: udp, ports 5000-5100\n"
                              "\n[link.match]\nprotocol = \"udp\"\n"));
  EXPECT_THAT(text, HasSubstr("\n[[link]]\nname = \"api\"\n# gets: tcp, port 443, to or from "
                              "192.0.2.0/24\n"));
  EXPECT_THAT(text, HasSubstr("\n[[link]]\nname = \"rest\"\n# gets: every packet, except what "
                              "links \"video\" and \"api\" (earlier) already takes\n"));
  EXPECT_THAT(text, HasSubstr("[link.outbound]\ndelay = \"30ms\"\n"));
  EXPECT_THAT(text, HasSubstr("# no [link.inbound] section: packets pass unimpaired\n"));
  EXPECT_THAT(text, Not(HasSubstr("\n[match]")));
}

}  // namespace
}  // namespace badlink

// The embedded default is exactly profiles/lte.toml and is valid.
#include <fstream>
#include <sstream>

#include "profile/default_profile.hh"

namespace badlink {
namespace {
TEST(DefaultProfile, IsProfilesLteTomlAndValid) {
  std::ifstream in(BADLINK_SOURCE_DIR "/profiles/lte.toml");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), default_profile_text());
  const Profile p = default_profile();
  EXPECT_EQ(p.name, "lte");
  EXPECT_TRUE(p.links.at(0).has_outbound);
  EXPECT_TRUE(p.links.at(0).has_inbound);
}

TEST(ProfileSlot, ParsesRendersAndRefusesWhatNetemWould) {
  const Profile p = parse_profile(
      "[profile]\nname = \"s\"\n[outbound]\nslot = { min = \"1ms\", max = \"5ms\", "
      "packets = 32, bytes = \"64KB\" }\n",
      "s.toml");
  const SlotConfig& slot = p.single_link().outbound.slot;
  EXPECT_EQ(slot.min, std::chrono::milliseconds(1));
  EXPECT_EQ(slot.max, std::chrono::milliseconds(5));
  EXPECT_EQ(slot.packets, 32u);
  EXPECT_EQ(slot.bytes, 64000u);
  EXPECT_FALSE(p.single_link().outbound.is_passthrough());
  const std::string shown = render_profile(p);
  EXPECT_THAT(shown, HasSubstr("slot = { min = \"1ms\", max = \"5ms\", packets = 32, bytes = "));
  EXPECT_EQ(render_profile(parse_profile(shown, "again.toml")), shown);
  // min alone: a fixed slot.
  EXPECT_EQ(parse_profile("[profile]\nname = \"s\"\n[outbound]\nslot = { min = \"2ms\" }\n", "s")
                .single_link()
                .outbound.slot.max,
            std::chrono::milliseconds(2));
  Diagnostic d = only_error("[profile]\nname = \"s\"\n[outbound]\nslot = { max = \"2ms\" }\n");
  EXPECT_EQ(d.line, 4u);
  EXPECT_THAT(d.message, HasSubstr("a slot needs min"));
  d = only_error("[profile]\nname = \"s\"\n[outbound]\nslot = { min = \"5ms\", max = \"1ms\" }\n");
  EXPECT_THAT(d.message, HasSubstr("1ms is less than min (5ms)"));
  d = only_error("[profile]\nname = \"s\"\n[outbound]\nslot = { min = \"1ms\", size = 3 }\n");
  EXPECT_THAT(d.message, HasSubstr("outbound.slot.size"));
}

}  // namespace
}  // namespace badlink
