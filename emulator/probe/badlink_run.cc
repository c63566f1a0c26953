// BadlinkRun over ChildProcess.
#include "probe/badlink_run.hh"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace badlink::probe {

namespace {

constexpr auto kReadyTimeout = std::chrono::seconds(15);
constexpr auto kStopTimeout = std::chrono::seconds(10);
constexpr size_t kTailLines = 20;

ChildSpec run_spec(const std::filesystem::path& badlink, const std::string& netns,
                   const std::vector<std::string>& args, const std::filesystem::path& log) {
  ChildSpec spec;
  spec.argv = {badlink.string(), "run"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.log = log;
  spec.network_namespace = netns;
  return spec;
}

}  // namespace

BadlinkRun::BadlinkRun(const std::filesystem::path& badlink, const std::string& netns,
                       const std::vector<std::string>& args, const std::filesystem::path& log)
    : child_(run_spec(badlink, netns, args, log)) {}

BadlinkRun::~BadlinkRun() {
  if (child_.pid() > 0) {
    const pid_t pid = child_.pid();
    if (!stop()) {
      spdlog::warn("badlink run (pid {}) did not stop; killed", pid);
    }
  }
}

void BadlinkRun::wait_ready(Interrupt& interrupt) {
  const ChildProcess::Start start = child_.wait_ready(
      [this] { return child_.log_contains("running profile"); },
      std::chrono::duration_cast<std::chrono::milliseconds>(kReadyTimeout),
      [&interrupt](std::chrono::milliseconds interval) { interrupt.wait(interval); });
  switch (start) {
    case ChildProcess::Start::ready:
      return;
    case ChildProcess::Start::exited:
      throw std::runtime_error("badlink run exited with status " +
                               std::to_string(child_.exit_status().value_or(-1)) +
                               " during start-up:" + log_tail());
    case ChildProcess::Start::timed_out:
      break;
  }
  throw std::runtime_error("badlink run did not start within 15 s:" + log_tail());
}

std::optional<int> BadlinkRun::stop() noexcept {
  return child_.stop(std::chrono::duration_cast<std::chrono::milliseconds>(kStopTimeout));
}

std::string BadlinkRun::log_tail() const {
  std::string out;
  for (const std::string& line : child_.log_tail(kTailLines)) {
    out += "\n  " + line;
  }
  return out;
}

}  // namespace badlink::probe
