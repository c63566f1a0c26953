// A program left running in the background (a server under test) until it is stopped: started
// with fork and exec so that it can join a network namespace first, its standard error kept
// in a log file, waited for until it is ready, stopped with SIGTERM and, failing that, SIGKILL.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace badlink {

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0]: a path, or a name looked up as find_program() does
  std::filesystem::path log;      // its standard error, created or truncated; stdin and stdout
                                  // are /dev/null
  std::string network_namespace;  // empty: this process's; else NAME of /run/netns/NAME
};

class ChildProcess {
 public:
  // Waits `interval` between two looks at a starting child: a sleep, or a wait that throws
  // when the user interrupts.
  using Pause = std::function<void(std::chrono::milliseconds interval)>;
  enum class Start : uint8_t { ready, exited, timed_out };

  // Starts it with default signal dispositions and no signal blocked; it gets SIGTERM should
  // this process die first. Throws SystemError when it cannot be started (no such program, the
  // namespace or the log cannot be opened); an exec that fails in the child is exit status 127.
  explicit ChildProcess(const ChildSpec& spec);
  // stop(); logs when it had to be killed. Never throws.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Looks every 50 ms until `ready()` holds, the child exits (exit_status() says how) or
  // `timeout` passes, with pause(50 ms) between looks. What pause() throws passes through.
  Start wait_ready(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                   const Pause& pause);

  // Its exit status once it has exited (reaped here), nullopt while it runs; never blocks.
  std::optional<int> exit_status();

  // SIGTERM, then up to `grace` for it to exit: its exit status; nullopt when it had to be
  // killed (SIGKILL). Called again, or after it exited: the same answer.
  std::optional<int> stop(std::chrono::milliseconds grace = std::chrono::seconds(10)) noexcept;

  bool log_contains(std::string_view text) const;
  // Its log's last `lines` lines (fewer when it has fewer).
  std::vector<std::string> log_tail(size_t lines) const;

  pid_t pid() const { return pid_; }
  const std::filesystem::path& log() const { return log_; }

 private:
  std::string name_;  // argv[0], for messages
  std::filesystem::path log_;
  pid_t pid_ = -1;  // -1 once reaped
  std::optional<int> exit_status_;
};

}  // namespace badlink
