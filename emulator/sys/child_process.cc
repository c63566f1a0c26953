// ChildProcess over fork, setns, execv and waitpid.
#include "sys/child_process.hh"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <thread>

#include "sys/file_descriptor.hh"
#include "sys/subprocess.hh"
#include "sys/system_error.hh"

namespace badlink {

namespace {

constexpr auto kLookInterval = std::chrono::milliseconds(50);
constexpr auto kStopPoll = std::chrono::milliseconds(20);

FileDescriptor open_file(const std::string& path, int flags) {
  return FileDescriptor(
      checked_call("open(" + path + ")", [&] { return ::open(path.c_str(), flags, 0644); }));
}

// In the child of a (possibly threaded) process: async-signal-safe calls only, until exec.
[[noreturn]] void become(const std::string& program, const std::vector<char*>& argv, pid_t parent,
                         const FileDescriptor* ns, const FileDescriptor& null_fd,
                         const FileDescriptor& log_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) {  // the parent died before prctl(): nobody would stop us
    ::_exit(127);
  }
  if (ns != nullptr && ::setns(ns->fd(), CLONE_NEWNET) != 0) {
    ::_exit(127);
  }
  ::dup2(null_fd.fd(), 0);
  ::dup2(null_fd.fd(), 1);
  ::dup2(log_fd.fd(), 2);
  // Default dispositions too: an ignored SIGINT (started in the background of a script)
  // would otherwise be inherited across exec.
  for (const int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
    ::signal(s, SIG_DFL);
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execv(program.c_str(), argv.data());
  ::_exit(127);
}

}  // namespace

ChildProcess::ChildProcess(const ChildSpec& spec) : log_(spec.log) {
  if (spec.argv.empty()) {
    throw SystemError("start a child (empty command)", EINVAL);
  }
  name_ = spec.argv[0];
  const std::optional<std::string> program = find_program(spec.argv[0]);
  if (!program) {
    throw SystemError("find " + spec.argv[0] + " in PATH", ENOENT);
  }
  const std::vector<char*> argv = exec_argv(spec.argv);
  std::optional<FileDescriptor> ns;
  if (!spec.network_namespace.empty()) {
    ns = open_file("/run/netns/" + spec.network_namespace, O_RDONLY | O_CLOEXEC);
  }
  const FileDescriptor log_fd = open_file(log_.string(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC);
  const FileDescriptor null_fd = open_file("/dev/null", O_RDWR | O_CLOEXEC);
  const pid_t parent = ::getpid();
  pid_ = SystemCall("fork", ::fork());
  if (pid_ == 0) {
    become(*program, argv, parent, ns ? &*ns : nullptr, null_fd, log_fd);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    const pid_t pid = pid_;
    if (!stop()) {
      spdlog::warn("{} (pid {}) did not stop; killed", name_, pid);
    }
  }
}

ChildProcess::Start ChildProcess::wait_ready(const std::function<bool()>& ready,
                                             std::chrono::milliseconds timeout,
                                             const Pause& pause) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) {
      return Start::ready;
    }
    if (exit_status()) {
      return Start::exited;
    }
    pause(kLookInterval);
  }
  return Start::timed_out;
}

std::optional<int> ChildProcess::exit_status() {
  if (pid_ > 0) {
    int status = 0;
    if (retry_eintr([&] { return ::waitpid(pid_, &status, WNOHANG); }) == pid_) {
      pid_ = -1;
      exit_status_ = exit_status_from_wait(status);
    }
  }
  return exit_status_;
}

std::optional<int> ChildProcess::stop(std::chrono::milliseconds grace) noexcept {
  if (pid_ <= 0) {
    return exit_status_;
  }
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      (void)retry_eintr([&] { return ::waitpid(pid_, &status, 0); });
      pid_ = -1;
      return std::nullopt;
    }
    std::this_thread::sleep_for(kStopPoll);
  }
  pid_ = -1;
  exit_status_ = exit_status_from_wait(status);
  return exit_status_;
}

bool ChildProcess::log_contains(std::string_view text) const {
  std::ifstream in(log_);
  const std::string all{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return all.find(text) != std::string::npos;
}

std::vector<std::string> ChildProcess::log_tail(size_t lines) const {
  std::ifstream in(log_);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) {
    all.push_back(line);
  }
  const size_t first = all.size() > lines ? all.size() - lines : 0;
  return {all.begin() + static_cast<std::ptrdiff_t>(first), all.end()};
}

}  // namespace badlink
