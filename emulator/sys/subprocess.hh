// Running a helper program (iptables) to completion and collecting what it printed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace badlink {

struct ProgramResult {
  int exit_status = 0;  // the exit code; 128 + N when killed by signal N
  std::string output;   // standard output and standard error together

  bool ok() const { return exit_status == 0; }
};

// Runs argv[0] (a path, or a name looked up as find_program() does) with argv, stdin from
// /dev/null, default dispositions, in a process group of its own, with SIGINT, SIGTERM,
// SIGHUP and SIGQUIT blocked (it runs to completion; SIGKILL still ends it).
// Throws SystemError when the program cannot be started at all.
ProgramResult run_program(const std::vector<std::string>& argv);

// Full path of `name` from PATH, then /usr/sbin, /sbin, /usr/bin, /bin; nullopt if absent.
std::optional<std::string> find_program(std::string_view name);

// argv as a shell would show it, for messages.
std::string command_line(const std::vector<std::string>& argv);

// argv as exec wants it: pointers into `argv`'s strings (which must outlive it), then nullptr.
std::vector<char*> exec_argv(const std::vector<std::string>& argv);

// An exit status from waitpid()'s `wait_status`: the exit code; 128 + N when killed by signal N.
int exit_status_from_wait(int wait_status);

}  // namespace badlink
