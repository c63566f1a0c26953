// `badlink cleanup`: removes the chains and jumps of a badlink that could not remove them
// itself (kill -9, a crash, a power cut of a container), found by their BADLINK-<pid>- names.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "cli/command.hh"
#include "divert/linux/firewall_rules.hh"
#include "divert/linux/leftovers.hh"
#include "sys/capabilities.hh"
#include "sys/subprocess.hh"

namespace po = boost::program_options;

namespace badlink::cli {

namespace {

po::options_description cleanup_options() {
  po::options_description options("Cleanup options");
  // clang-format off
  options.add_options()
      ("all", "also remove the rules of badlink processes still running")
      ("dry-run,n", "only say what would be removed");
  // clang-format on
  return options;
}

// True when `pid` is a running badlink (not a recycled pid of another program).
bool running_badlink(int pid) {
  if (::kill(pid, 0) != 0 && errno != EPERM) {
    return false;
  }
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  return static_cast<bool>(std::getline(comm, name)) && name == "badlink";
}

struct Counts {
  size_t removed = 0;
  size_t failed = 0;
  size_t kept = 0;
};

void run_or_report(const std::vector<std::string>& argv, bool dry_run, Counts& counts) {
  if (dry_run) {
    std::cout << "would run: " << command_line(argv) << '\n';
    return;
  }
  const ProgramResult r = run_program(argv);
  if (r.ok()) {
    spdlog::debug("{}", command_line(argv));
    ++counts.removed;
  } else {
    ++counts.failed;
    spdlog::error("{} failed: {}", command_line(argv), r.output);
  }
}

void clean_family(IpFamily family, bool all, bool dry_run, Counts& counts) {
  const std::string program(iptables_program(family));
  const auto iptables = find_program(program);
  const auto save = find_program(program + "-save");
  if (!iptables || !save) {
    spdlog::debug("{} not installed: nothing of {} to clean", program, to_string(family));
    return;
  }
  const ProgramResult listing = run_program({*save});
  if (!listing.ok()) {
    spdlog::warn("{}-save failed ({}): {} rules not checked", program, listing.output,
                 to_string(family));
    return;
  }
  for (const Leftover& l : find_leftovers(listing.output)) {
    if (!all && running_badlink(l.pid)) {
      spdlog::info("{} {}: chains of running badlink {} left alone (--all removes them too)",
                   to_string(family), l.table, l.pid);
      ++counts.kept;
      continue;
    }
    spdlog::info("{} {}: removing {} jumps and {} chains of badlink {}", to_string(family), l.table,
                 l.jumps.size(), l.chains.size(), l.pid);
    const std::vector<std::string> base{*iptables, "-w", "5", "-t", l.table};
    for (const RuleSpec& jump : l.jumps) {
      std::vector<std::string> argv = base;
      argv.insert(argv.end(), {"-D", jump.chain});
      argv.insert(argv.end(), jump.args.begin(), jump.args.end());
      run_or_report(argv, dry_run, counts);
    }
    for (const std::string& chain : l.chains) {
      std::vector<std::string> flush = base;
      flush.insert(flush.end(), {"-F", chain});
      run_or_report(flush, dry_run, counts);
      std::vector<std::string> remove = base;
      remove.insert(remove.end(), {"-X", chain});
      run_or_report(remove, dry_run, counts);
    }
  }
}

}  // namespace

std::string cleanup_help() {
  std::ostringstream out;
  out << "Usage: badlink cleanup [--all] [--dry-run]\n"
         "\n"
         "Removes firewall rules left by a badlink that was killed before it could remove\n"
         "them (kill -9, a crash): the chains BADLINK-<pid>-OUT/-IN and the jumps to them, for\n"
         "IPv4 and IPv6, in the current network namespace. Chains of a badlink that is still\n"
         "running are left alone unless --all is given. Such leftovers never black-hole\n"
         "traffic (their rules use --queue-bypass), but they do send it through the kernel's\n"
         "queue path until removed.\n"
         "\n"
      << cleanup_options()
      << "\n"
         "Exit status: 0 ok (also when there was nothing to remove), 1 a removal failed or\n"
         "CAP_NET_ADMIN is missing, 2 bad usage.\n";
  return out.str();
}

int cleanup_main(const std::vector<std::string>& args) {
  const po::options_description options = cleanup_options();
  const po::variables_map vm = parse_command_line(args, options);
  const bool all = vm.count("all") != 0;
  const bool dry_run = vm.count("dry-run") != 0;

  constexpr std::array needed{Capability::net_admin};
  if (!missing_capabilities(needed).empty()) {
    throw std::runtime_error(
        "missing CAP_NET_ADMIN: badlink cleanup reads and changes firewall rules; run it as "
        "root");
  }

  Counts counts;
  for (const IpFamily family : {IpFamily::ipv4, IpFamily::ipv6}) {
    clean_family(family, all, dry_run, counts);
  }
  if (!dry_run) {
    if (counts.removed == 0 && counts.failed == 0) {
      spdlog::info("no leftover badlink rules{}", counts.kept > 0 ? " of stopped instances" : "");
    } else {
      spdlog::info("{} removals done, {} failed", counts.removed, counts.failed);
    }
  }
  std::cout.flush();
  return counts.failed == 0 ? kExitOk : kExitFailure;
}

}  // namespace badlink::cli
