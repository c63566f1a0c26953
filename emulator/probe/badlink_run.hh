// `badlink run` as `badlink verify` starts it on the testbed's gateway: a child process in a
// network namespace, ready once its log says it runs, stopped with SIGTERM (its rules go with
// it) when destroyed; it also gets SIGTERM should verify die first.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sys/child_process.hh"
#include "sys/interrupt.hh"

namespace badlink::probe {

class BadlinkRun {
 public:
  // `BADLINK run ARGS...` in namespace `netns`, its standard error in `log`.
  BadlinkRun(const std::filesystem::path& badlink, const std::string& netns,
             const std::vector<std::string>& args, const std::filesystem::path& log);
  ~BadlinkRun();
  BadlinkRun(const BadlinkRun&) = delete;
  BadlinkRun& operator=(const BadlinkRun&) = delete;

  // Until its log says it runs; throws std::runtime_error with the end of its log when it
  // exits first or does not start within 15 s, Interrupted when `interrupt` fires.
  void wait_ready(Interrupt& interrupt);

  // SIGTERM and wait: its exit status; nullopt when it had to be killed.
  std::optional<int> stop() noexcept;

  // The last 20 lines of its log, each on a line of its own indented by two spaces.
  std::string log_tail() const;

 private:
  ChildProcess child_;
};

}  // namespace badlink::probe
