// What a subcommand of the badlink executable is: a name, its help, and a handler taking the
// arguments after its name. main.cc holds the table; each command lives in its own file.
#pragma once

#include <boost/program_options.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace badlink {
struct Profile;
}

namespace badlink::cli {

// The command line is wrong (exit 2). Boost.Program_options' own errors count as this too.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Exit statuses, as documented in `badlink --help`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // runtime failure: I/O, unreadable capture
inline constexpr int kExitUsage = 2;    // bad usage or bad profile

struct Command {
  std::string_view name;
  std::string_view summary;  // one line for `badlink --help`
  std::string (*help)();     // the whole text for `badlink NAME --help`
  // Runs with the arguments that follow the command's name (global flags already removed).
  // Returns the exit status; throws UsageError / boost::program_options::error for bad usage,
  // ProfileError for a bad profile, anything else for a runtime failure.
  int (*run)(const std::vector<std::string>& args);
};

// Parses a command's arguments; with no `positional`, a stray word is an error. Throws
// boost::program_options errors (bad usage, exit 2).
boost::program_options::variables_map parse_command_line(
    const std::vector<std::string>& args,
    const boost::program_options::options_description& options,
    const boost::program_options::positional_options_description& positional = {});

// `run` and `verify` apply one link: a profile with several is refused here with a
// ProfileError naming the file (exit 2). `command` is "run" or "verify".
void require_one_link(const Profile& profile, std::string_view command);

// The commands, each in its own file.
std::string check_help();
int check_main(const std::vector<std::string>& args);
std::string show_help();
int show_main(const std::vector<std::string>& args);
std::string replay_help();
int replay_main(const std::vector<std::string>& args);
std::string run_help();
int run_main(const std::vector<std::string>& args);
std::string cleanup_help();
int cleanup_main(const std::vector<std::string>& args);
std::string verify_help();
int verify_main(const std::vector<std::string>& args);
std::string probe_help();
int probe_main(const std::vector<std::string>& args);
std::string ctl_help();
int ctl_main(const std::vector<std::string>& args);

// The whole program: what main() runs (cli/entry.cc), so that another build of the executable
// (tests/bench: badlink_counting) runs the same code.
int entry(int argc, char** argv);

}  // namespace badlink::cli
