// ChildProcess with /bin/sh and sleep as the children: ready when its log says so, an exit
// during start-up or a timeout reported as such, SIGTERM then SIGKILL, the log's tail, and a
// child that starts with default signal dispositions and nothing blocked.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "sys/child_process.hh"
#include "sys/system_error.hh"
#include "temp_dir.hh"

namespace badlink {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

void sleep_for(std::chrono::milliseconds interval) { std::this_thread::sleep_for(interval); }

ChildSpec shell(const std::string& script, const std::filesystem::path& log) {
  ChildSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.log = log;
  return spec;
}

bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

TEST(ChildProcess, IsReadyOnceItsLogSaysSoAndStopsOnSigterm) {
  const testing::TempDir dir;
  ChildProcess child(
      shell("echo starting >&2; sleep 0.2; echo 'server ready' >&2; exec sleep 30", dir / "log"));
  const ChildProcess::Start start =
      child.wait_ready([&] { return child.log_contains("server ready"); }, 10s, sleep_for);
  EXPECT_EQ(start, ChildProcess::Start::ready);
  EXPECT_TRUE(child.log_contains("starting"));
  EXPECT_EQ(child.exit_status(), std::nullopt) << "still running";
  const pid_t pid = child.pid();
  EXPECT_EQ(child.stop(), 128 + SIGTERM);
  EXPECT_TRUE(gone(pid));
  EXPECT_EQ(child.stop(), 128 + SIGTERM) << "a second stop gives the same answer";
}

TEST(ChildProcess, AnExitDuringStartUpIsReportedWithItsStatusAndLog) {
  const testing::TempDir dir;
  ChildProcess child(shell("echo 'bad config' >&2; exit 3", dir / "log"));
  const ChildProcess::Start start = child.wait_ready([] { return false; }, 10s, sleep_for);
  EXPECT_EQ(start, ChildProcess::Start::exited);
  EXPECT_EQ(child.exit_status(), 3);
  EXPECT_EQ(child.stop(), 3) << "stopping what has exited gives its status";
  EXPECT_EQ(child.log_tail(20), std::vector<std::string>{"bad config"});
}

TEST(ChildProcess, TimesOutWhenNeverReady) {
  const testing::TempDir dir;
  ChildProcess child(shell("exec sleep 30", dir / "log"));
  const auto started = Clock::now();
  const ChildProcess::Start start = child.wait_ready([] { return false; }, 300ms, sleep_for);
  const auto waited = Clock::now() - started;
  EXPECT_EQ(start, ChildProcess::Start::timed_out);
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 3s);
}

TEST(ChildProcess, IsKilledWhenItIgnoresSigterm) {
  const testing::TempDir dir;
  ChildProcess child(
      shell("trap '' TERM; echo armed >&2; while :; do sleep 0.05; done", dir / "log"));
  ASSERT_EQ(child.wait_ready([&] { return child.log_contains("armed"); }, 10s, sleep_for),
            ChildProcess::Start::ready);
  const pid_t pid = child.pid();
  const auto started = Clock::now();
  EXPECT_EQ(child.stop(200ms), std::nullopt);
  EXPECT_GE(Clock::now() - started, 200ms);
  EXPECT_TRUE(gone(pid));
  EXPECT_EQ(child.stop(), std::nullopt);
}

TEST(ChildProcess, WhatPauseThrowsPassesThroughAndTheChildIsStillStopped) {
  const testing::TempDir dir;
  pid_t pid = 0;
  {
    ChildProcess child(shell("exec sleep 30", dir / "log"));
    pid = child.pid();
    EXPECT_THROW(child.wait_ready(
                     [] { return false; }, 10s,
                     [](std::chrono::milliseconds) { throw std::runtime_error("interrupted"); }),
                 std::runtime_error);
  }
  EXPECT_TRUE(gone(pid)) << "the destructor stops and reaps it";
}

TEST(ChildProcess, StandardErrorGoesToTheLogAndStandardOutputNowhere) {
  const testing::TempDir dir;
  ChildProcess child(shell("echo out; echo err >&2; read line; echo \"read $?\" >&2", dir / "log"));
  ASSERT_EQ(child.wait_ready([] { return false; }, 10s, sleep_for), ChildProcess::Start::exited);
  EXPECT_EQ(child.exit_status(), 0);
  // stdin is /dev/null: read meets end of file at once and fails.
  EXPECT_EQ(child.log_tail(20), (std::vector<std::string>{"err", "read 1"}));
}

TEST(ChildProcess, LogTailKeepsTheLastLines) {
  const testing::TempDir dir;
  ChildProcess child(
      shell("i=1; while [ $i -le 30 ]; do echo line$i >&2; i=$((i+1)); done", dir / "log"));
  ASSERT_EQ(child.wait_ready([] { return false; }, 10s, sleep_for), ChildProcess::Start::exited);
  const std::vector<std::string> tail = child.log_tail(3);
  EXPECT_EQ(tail, (std::vector<std::string>{"line28", "line29", "line30"}));
  EXPECT_EQ(child.log_tail(100).size(), 30U);
}

TEST(ChildProcess, StartsWithDefaultDispositionsAndNothingBlocked) {
  const testing::TempDir dir;
  // What this process ignores or blocks is not the child's: SIGTERM still ends it.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigset_t old_mask;
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &term, &old_mask), 0);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction old_action {};
  ASSERT_EQ(::sigaction(SIGTERM, &ignore, &old_action), 0);
  ChildSpec spec;
  spec.argv = {"sleep", "30"};  // looked up in PATH
  spec.log = dir / "log";
  std::optional<int> status;
  {
    ChildProcess child(spec);
    status = child.stop(5s);
  }
  ::sigaction(SIGTERM, &old_action, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  EXPECT_EQ(status, 128 + SIGTERM);
}

TEST(ChildProcess, ThrowsWhenItCannotStart) {
  const testing::TempDir dir;
  ChildSpec missing;
  missing.argv = {"badlink-no-such-program"};
  missing.log = dir / "log";
  EXPECT_THROW(ChildProcess{missing}, SystemError);

  ChildSpec no_namespace = shell("exit 0", dir / "log");
  no_namespace.network_namespace = "badlink-test-no-such-namespace";
  EXPECT_THROW(ChildProcess{no_namespace}, SystemError);

  ChildSpec no_log = shell("exit 0", dir / "no-such-dir" / "log");
  EXPECT_THROW(ChildProcess{no_log}, SystemError);
}

}  // namespace
}  // namespace badlink
