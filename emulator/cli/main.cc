// The badlink executable: global flags, logging to stderr, dispatch through the command table,
// and the one place where errors become exit statuses.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/program_options.hpp>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.hh"
#include "profile/profile.hh"

#ifndef BADLINK_VERSION
#error "BADLINK_VERSION must be defined by the build"
#endif

namespace po = boost::program_options;

namespace badlink::cli {

namespace {

// name -> handler. Live mode (`run`, `cleanup`, `verify`) adds its rows here.
constexpr std::array kCommands{
    Command{"check", "validate profiles", check_help, check_main},
    Command{"show", "print a profile with every default filled in", show_help, show_main},
    Command{"replay", "impair a pcap capture offline", replay_help, replay_main},
    Command{"run", "impair live traffic (NFQUEUE; needs root)", run_help, run_main},
    Command{"cleanup", "remove rules a killed badlink left behind", cleanup_help, cleanup_main},
    Command{"verify", "measure that badlink does what a profile says (needs root)", verify_help,
            verify_main},
    Command{"probe", "send or receive numbered UDP probes (verify's measuring stick)", probe_help,
            probe_main},
    Command{"ctl", "control a running badlink through its API (show, set, load, stats, ...)",
            ctl_help, ctl_main},
};

const Command* find_command(std::string_view name) {
  const auto* it = std::find_if(kCommands.begin(), kCommands.end(),
                                [name](const Command& c) { return c.name == name; });
  return it == kCommands.end() ? nullptr : it;
}

// Long options are matched exactly: no abbreviations, so a subcommand's option can never be
// mistaken for a global one.
constexpr int kParserStyle =
    po::command_line_style::default_style & ~po::command_line_style::allow_guessing;

po::options_description global_options() {
  po::options_description options("Global options");
  // clang-format off
  options.add_options()
      ("help,h", "show this help, or a command's with COMMAND --help")
      ("version", "print the version")
      ("verbose,v", "log more (debug)")
      ("quiet,q", "log only warnings and errors");
  // clang-format on
  return options;
}

std::string global_help() {
  std::ostringstream out;
  out << "badlink " BADLINK_VERSION
         " - a network impairment emulator\n"
         "\n"
         "Usage: badlink [-v|-q] COMMAND [ARGS...]\n"
         "       badlink COMMAND --help\n"
         "       badlink --help | --version\n"
         "\n"
         "Commands:\n";
  for (const Command& c : kCommands) {
    out << "  " << c.name << std::string(10 - std::min<size_t>(c.name.size(), 9), ' ') << c.summary
        << '\n';
  }
  out << '\n'
      << global_options()
      << "\n"
         "Log messages go to standard error.\n"
         "\n"
         "Exit status:\n"
         "  0  success\n"
         "  1  runtime failure: an I/O error, an unreadable or unsupported capture\n"
         "  2  bad usage, or an invalid profile (problems printed as FILE:LINE:COL: message)\n";
  return out.str();
}

struct CommandLine {
  bool help = false;
  bool version = false;
  bool verbose = false;
  bool quiet = false;
  std::optional<std::string> command;
  std::vector<std::string> args;  // everything for the command, in order, global flags removed
};

// Global flags may stand anywhere; the first positional argument is the command, and every
// other token (options the globals do not know included) goes to it.
CommandLine parse_command_line(int argc, char** argv) {
  po::options_description hidden;
  hidden.add_options()("command", po::value<std::string>())("args",
                                                            po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(global_options()).add(hidden);
  po::positional_options_description positional;
  positional.add("command", 1).add("args", -1);

  const po::parsed_options parsed = po::command_line_parser(argc, argv)
                                        .options(all)
                                        .positional(positional)
                                        .style(kParserStyle)
                                        .allow_unregistered()
                                        .run();
  po::variables_map vm;
  po::store(parsed, vm);
  po::notify(vm);

  CommandLine line;
  line.help = vm.count("help") != 0;
  line.version = vm.count("version") != 0;
  line.verbose = vm.count("verbose") != 0;
  line.quiet = vm.count("quiet") != 0;
  if (vm.count("command") != 0) {
    line.command = vm["command"].as<std::string>();
  }
  for (const po::option& o : parsed.options) {
    const bool command_name = o.position_key == 0;
    if (o.unregistered || (o.position_key > 0 && !command_name)) {
      line.args.insert(line.args.end(), o.original_tokens.begin(), o.original_tokens.end());
    }
  }
  return line;
}

void set_up_logging() {
  auto logger = spdlog::stderr_color_mt("badlink");
  logger->set_pattern("badlink: %^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::info);
}

int run(int argc, char** argv, std::string& help_hint) {
  const CommandLine line = parse_command_line(argc, argv);
  if (line.verbose && line.quiet) {
    throw UsageError("--verbose and --quiet contradict each other");
  }
  spdlog::set_level(line.verbose ? spdlog::level::debug
                    : line.quiet ? spdlog::level::warn
                                 : spdlog::level::info);

  const Command* command = nullptr;
  if (line.command) {
    command = find_command(*line.command);
    if (command == nullptr) {
      throw UsageError("unknown command '" + *line.command + "'");
    }
    help_hint = "badlink " + std::string(command->name) + " --help";
  }
  if (line.help) {
    std::cout << (command != nullptr ? command->help() : global_help()) << std::flush;
    return kExitOk;
  }
  if (line.version) {
    std::cout << "badlink " BADLINK_VERSION "\n" << std::flush;
    return kExitOk;
  }
  if (command == nullptr) {
    if (!line.args.empty()) {
      throw UsageError("unknown option '" + line.args.front() + "'");
    }
    std::cerr << global_help();
    return kExitUsage;
  }
  return command->run(line.args);
}

}  // namespace

}  // namespace badlink::cli

int badlink::cli::entry(int argc, char** argv) {
  using namespace badlink::cli;
  std::string help_hint = "badlink --help";
  try {
    set_up_logging();
    return run(argc, argv, help_hint);
  } catch (const badlink::ProfileError& e) {
    for (const badlink::Diagnostic& d : e.diagnostics()) {
      std::cerr << d.to_string() << '\n';
    }
    return kExitUsage;
  } catch (const UsageError& e) {
    spdlog::error("{}; see '{}'", e.what(), help_hint);
    return kExitUsage;
  } catch (const po::error& e) {
    spdlog::error("{}; see '{}'", e.what(), help_hint);
    return kExitUsage;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitFailure;
  } catch (...) {
    spdlog::error("unknown failure");
    return kExitFailure;
  }
}
