// Interrupt: SIGINT, SIGTERM and SIGHUP become Interrupted where a task looks, not before, and
// a wait ends as soon as one comes.
#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "sys/interrupt.hh"

namespace badlink {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Made before any thread of the test binary starts, as the program does.
Interrupt& interrupt() {
  static Interrupt instance;
  return instance;
}

TEST(Interrupt, NothingPendingIsNoInterruption) {
  Interrupt& i = interrupt();
  EXPECT_NO_THROW(i.check());
  const auto started = Clock::now();
  EXPECT_NO_THROW(i.wait(100ms));
  EXPECT_GE(Clock::now() - started, 100ms);
}

TEST(Interrupt, ASignalIsThrownOnceWhereTheTaskLooks) {
  Interrupt& i = interrupt();
  ASSERT_EQ(::raise(SIGTERM), 0);  // blocked: pending until looked at
  try {
    i.check();
    FAIL() << "no Interrupted";
  } catch (const Interrupted& e) {
    EXPECT_EQ(e.signal(), SIGTERM);
    EXPECT_EQ(std::string(e.what()), std::string("interrupted by ") + ::strsignal(SIGTERM));
  }
  EXPECT_NO_THROW(i.check()) << "the signal was consumed";
}

TEST(Interrupt, AWaitEndsWhenASignalComes) {
  Interrupt& i = interrupt();
  std::thread sender([] {
    std::this_thread::sleep_for(100ms);
    ::kill(::getpid(), SIGHUP);  // to the process, as a terminal's hang-up is
  });
  const auto started = Clock::now();
  int caught = 0;
  try {
    i.wait(20s);
  } catch (const Interrupted& e) {
    caught = e.signal();
  }
  sender.join();
  EXPECT_EQ(caught, SIGHUP);
  EXPECT_LT(Clock::now() - started, 10s);
}

}  // namespace
}  // namespace badlink
