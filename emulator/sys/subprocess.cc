// run_program over posix_spawn with one pipe for output, and waitpid.
#include "sys/subprocess.hh"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "sys/file_descriptor.hh"
#include "sys/system_error.hh"

extern char** environ;

namespace badlink {

namespace {

bool executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// posix_spawn's attributes and file actions, destroyed on every path.
class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawnattr_init(&attr_);
    posix_spawn_file_actions_init(&actions_);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;

  posix_spawnattr_t attr_;
  posix_spawn_file_actions_t actions_;
};

}  // namespace

std::optional<std::string> find_program(std::string_view name) {
  if (name.find('/') != std::string_view::npos) {
    return executable(std::string(name)) ? std::optional(std::string(name)) : std::nullopt;
  }
  std::string path = "/usr/sbin:/sbin:/usr/bin:/bin";
  if (const char* env = std::getenv("PATH"); env != nullptr && *env != '\0') {
    path = std::string(env) + ":" + path;
  }
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find(':', start), path.size());
    const std::string dir = path.substr(start, end - start);
    if (!dir.empty()) {
      std::string candidate = dir + "/" + std::string(name);
      if (executable(candidate)) {
        return candidate;
      }
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) {
      out += ' ';
    }
    const bool quote = arg.empty() || arg.find_first_of(" \t\"'\\$") != std::string::npos;
    if (quote) {
      out += '\'';
      for (const char c : arg) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      }
      out += '\'';
    } else {
      out += arg;
    }
  }
  return out;
}

std::vector<char*> exec_argv(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) {
    // exec's argv is char* const[] for C's sake; it does not write to the strings.
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  return args;
}

int exit_status_from_wait(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    return 128 + WTERMSIG(wait_status);
  }
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 0;
}

ProgramResult run_program(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    throw SystemError("run_program(empty command)", EINVAL);
  }
  const std::optional<std::string> program = find_program(argv[0]);
  if (!program) {
    throw SystemError("find " + argv[0] + " in PATH", ENOENT);
  }

  int pipe_fds[2];
  SystemCall("pipe2", ::pipe2(pipe_fds, O_CLOEXEC));
  FileDescriptor read_end(pipe_fds[0]);
  FileDescriptor write_end(pipe_fds[1]);

  SpawnSetup setup;
  // A process group of its own: a Ctrl-C at the terminal reaches badlink (which then removes
  // its rules in order), never an iptables half-way through changing them. Until the child
  // has left badlink's group, a signal sent to the group (timeout(1) sends one to the program
  // and another to its group) still reaches it: so the termination signals stay blocked in
  // the child, and such a signal stays pending until it exits instead of killing it.
  sigset_t blocked;
  sigemptyset(&blocked);
  for (const int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    sigaddset(&blocked, s);
  }
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&setup.attr_, &blocked);
  posix_spawnattr_setsigdefault(&setup.attr_, &all);
  posix_spawnattr_setpgroup(&setup.attr_, 0);
  posix_spawnattr_setflags(&setup.attr_,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  posix_spawn_file_actions_addopen(&setup.actions_, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions_, write_end.fd(), 1);
  posix_spawn_file_actions_adddup2(&setup.actions_, write_end.fd(), 2);

  std::vector<char*> args = exec_argv(argv);
  pid_t pid = 0;
  const int rv =
      ::posix_spawn(&pid, program->c_str(), &setup.actions_, &setup.attr_, args.data(), environ);
  if (rv != 0) {
    throw SystemError("posix_spawn(" + *program + ")", rv);
  }
  write_end.close();

  ProgramResult result;
  char buffer[4096];
  for (;;) {
    const ssize_t n = retry_eintr([&] { return ::read(read_end.fd(), buffer, sizeof buffer); });
    if (n <= 0) {
      break;
    }
    result.output.append(buffer, static_cast<size_t>(n));
  }
  int status = 0;
  checked_call("waitpid(" + *program + ")", [&] { return ::waitpid(pid, &status, 0); });
  result.exit_status = exit_status_from_wait(status);
  return result;
}

}  // namespace badlink
