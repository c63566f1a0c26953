// Named network namespaces through iproute2, and setns() on helper threads; see
// network_namespace.hh.
#include "probe/network_namespace.hh"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "sys/subprocess.hh"
#include "sys/system_error.hh"

namespace badlink::probe {

namespace {

constexpr const char* kNetnsDir = "/run/netns";

ProgramResult run_ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(argv);
}

}  // namespace

void ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProgramResult result = run_program(argv);
  if (!result.ok()) {
    std::string output = result.output;
    while (!output.empty() && output.back() == '\n') {
      output.pop_back();
    }
    throw std::runtime_error(command_line(argv) + " failed (exit " +
                             std::to_string(result.exit_status) + "): " + output);
  }
}

NetworkNamespace::NetworkNamespace(std::string name) : name_(std::move(name)) {
  ip({"netns", "add", name_});
  try {
    ip({"-n", name_, "link", "set", "lo", "up"});
  } catch (...) {
    (void)run_ip({"netns", "del", name_});
    throw;
  }
}

NetworkNamespace::~NetworkNamespace() { remove_namespace(name_); }

void remove_namespace(const std::string& name) noexcept {
  try {
    // Anything still inside would keep the namespace (and its interfaces) alive.
    const ProgramResult pids = run_ip({"netns", "pids", name});
    size_t start = 0;
    while (start < pids.output.size()) {
      const size_t end = std::min(pids.output.find('\n', start), pids.output.size());
      int pid = 0;
      const auto [ptr, ec] =
          std::from_chars(pids.output.data() + start, pids.output.data() + end, pid);
      if (ec == std::errc{} && pid > 0 && pid != ::getpid()) {
        ::kill(pid, SIGKILL);
      }
      start = end + 1;
    }
    const ProgramResult result = run_ip({"netns", "del", name});
    if (!result.ok()) {
      spdlog::warn("ip netns del {}: {}", name, result.output);
    }
  } catch (const std::exception& e) {
    spdlog::warn("removing network namespace {}: {}", name, e.what());
  }
}

void run_in_namespace(const std::string& name, const std::function<void()>& work) {
  std::exception_ptr failure;
  std::thread helper([&]() {
    try {
      const std::string path = std::string(kNetnsDir) + "/" + name;
      const FileDescriptor ns(checked_call(
          "open(" + path + ")", [&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }));
      SystemCall("setns(" + path + ")", ::setns(ns.fd(), CLONE_NEWNET));
      work();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  helper.join();
  if (failure) {
    std::rethrow_exception(failure);
  }
}

FileDescriptor socket_in_namespace(const std::string& name, int domain, int type) {
  const auto open = [&] {
    return FileDescriptor(SystemCall("socket", ::socket(domain, type | SOCK_CLOEXEC, 0)));
  };
  if (name.empty()) {
    return open();
  }
  FileDescriptor fd;
  run_in_namespace(name, [&] { fd = open(); });
  return fd;
}

void set_sysctl(const std::string& name, const std::string& key, const std::string& value) {
  std::string path = "/proc/sys/" + key;
  for (size_t i = std::string("/proc/sys/").size(); i < path.size(); ++i) {
    if (path[i] == '.') {
      path[i] = '/';
    }
  }
  run_in_namespace(name, [&] {
    // /proc/sys/net belongs to the namespace of the thread that opens it.
    std::ofstream out(path);
    out << value << '\n';
    out.close();
    if (!out) {
      throw std::runtime_error("cannot write " + value + " to " + path + " in namespace " + name);
    }
  });
}

std::vector<std::string> stale_namespaces(const std::string& prefix) {
  std::vector<std::string> stale;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(kNetnsDir, error)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) {
      continue;
    }
    int pid = 0;
    const char* first = name.data() + prefix.size();
    const char* last = name.data() + name.size();
    const auto [ptr, ec] = std::from_chars(first, last, pid);
    if (ec != std::errc{} || ptr == last || *ptr != '-' || pid <= 0) {
      continue;
    }
    // Our own pid too: a process before us had it and was killed (we have made none yet).
    if (pid == ::getpid() || (::kill(pid, 0) != 0 && errno == ESRCH)) {
      stale.push_back(name);
    }
  }
  return stale;
}

}  // namespace badlink::probe
