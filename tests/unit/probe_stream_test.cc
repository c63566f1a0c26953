// Probe streams as verify plans and runs them: the port, counts and receive deadline of a plan,
// and streams run side by side over this host's loopback (no namespace, no root): every probe
// arrives, every thread is joined, an interrupt aborts them all and a failure is thrown.
#include "probe/probe_stream.hh"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "sys/interrupt.hh"
#include "sys/system_error.hh"

namespace badlink::probe {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Ports kBasePort + 900 and up: clear of what verify's own streams use.
constexpr uint16_t kTestStream = 900;

// Made before any thread of the test binary starts, as the program does.
Interrupt& interrupt() {
  static Interrupt instance;
  return instance;
}

TEST(PlanStream, PortCountsAndReceiveDeadline) {
  const StreamPlan p = plan_stream({"blv-1-c", "blv-1-s", "203.0.113.2"}, 21,
                                   {.count = 1000, .pps = 250, .payload = 64, .drain = 2s});
  EXPECT_EQ(p.from, "blv-1-c");
  EXPECT_EQ(p.to, "blv-1-s");
  EXPECT_EQ(p.destination.text, "203.0.113.2:47021");
  EXPECT_EQ(p.send.count, 1000U);
  EXPECT_EQ(p.send.rate_pps, 250.0);
  EXPECT_EQ(p.send.payload_bytes, 64U);
  EXPECT_EQ(p.send.stream, 21);
  EXPECT_EQ(p.receive.count, 1000U);
  EXPECT_EQ(p.receive.stream, 21);
  EXPECT_EQ(p.receive.stamp, Stamp::kernel);
  // 1000 packets at 250/s take 4 s; then the drain, then 30 s of slack.
  EXPECT_EQ(p.receive.max_time, Duration(4s + 2s + 30s));
  EXPECT_EQ(p.drain, Duration(2s));
  EXPECT_EQ(p.ip_overhead, kUdpIpv4Overhead);
}

TEST(PlanStream, FractionalSendingTimeIsKept) {
  const StreamPlan p = plan_stream({"", "", "127.0.0.1"}, 0, {.count = 3, .pps = 2000});
  EXPECT_EQ(p.destination.text, "127.0.0.1:47000");
  EXPECT_EQ(p.receive.max_time, Duration(1500us) + Duration(30s));
}

TEST(RunStreams, RunsSideBySideAndEveryProbeArrives) {
  Interrupt& i = interrupt();
  ProbeStream a;
  ProbeStream b;
  a.plan = plan_stream({"", "", "127.0.0.1"}, kTestStream,
                       {.count = 200, .pps = 2000, .payload = 32, .drain = 200ms});
  b.plan = plan_stream({"", "", "127.0.0.1"}, kTestStream + 1,
                       {.count = 100, .pps = 1000, .payload = 500, .drain = 200ms});
  ProbeStream* const streams[] = {&a, &b};
  run_streams(streams, i);
  for (const ProbeStream* s : streams) {
    EXPECT_EQ(s->sent.sent, s->plan.send.count);
    EXPECT_FALSE(s->send_failure);
    EXPECT_FALSE(s->receive_failure);
    const ProbeSummary summary = s->summary();
    EXPECT_EQ(summary.expected, s->plan.send.count);
    EXPECT_EQ(summary.unique, s->plan.send.count) << "loopback loses nothing";
    EXPECT_EQ(summary.damaged, 0U);
  }
  ASSERT_FALSE(b.received.arrivals.empty());
  EXPECT_EQ(b.received.arrivals.front().bytes, 500U);
}

TEST(RunStreams, AnInterruptAbortsEveryStream) {
  Interrupt& i = interrupt();
  ProbeStream slow;  // 1000 s of probes
  slow.plan = plan_stream({"", "", "127.0.0.1"}, kTestStream + 2,
                          {.count = 100000, .pps = 100, .payload = 32, .drain = 1s});
  std::thread sender([] {
    std::this_thread::sleep_for(200ms);
    ::kill(::getpid(), SIGINT);
  });
  const auto started = Clock::now();
  ProbeStream* const streams[] = {&slow};
  EXPECT_THROW(run_streams(streams, i), Interrupted);
  sender.join();
  EXPECT_LT(Clock::now() - started, 10s);
  EXPECT_TRUE(slow.control.abort);
  EXPECT_LT(slow.sent.sent, 1000U);
}

TEST(RunStreams, ASocketThatCannotBeOpenedIsThrown) {
  Interrupt& i = interrupt();
  ProbeStream s;  // 192.0.2.1 is no address of this host: the receiver cannot bind it
  s.plan = plan_stream({"", "", "192.0.2.1"}, kTestStream + 3, {.count = 10, .pps = 100});
  ProbeStream* const streams[] = {&s};
  EXPECT_THROW(run_streams(streams, i), SystemError);
}

}  // namespace
}  // namespace badlink::probe
