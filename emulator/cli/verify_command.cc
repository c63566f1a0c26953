// `badlink verify`: its options, and the report printed from what probe/verifier.hh measured
// and judged (the testbed, badlink run on its gateway, the probe streams, the tolerances).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.hh"
#include "io/json_text.hh"
#include "probe/verifier.hh"
#include "probe/verify_report.hh"
#include "probe/verify_result.hh"
#include "profile/default_profile.hh"
#include "profile/profile.hh"
#include "profile/timeline.hh"
#include "sys/interrupt.hh"

namespace po = boost::program_options;

namespace badlink::cli {

namespace {

using probe::HostAllowance;

po::options_description verify_options() {
  po::options_description options("Verify options");
  // clang-format off
  options.add_options()
      ("json", po::value<std::string>()->value_name("FILE"),
       "also write the results as JSON (\"-\": standard output)")
      ("seed,s", po::value<uint64_t>()->value_name("N"),
       "seed for badlink run (default: drawn and printed)")
      ("duration", po::value<double>()->default_value(30)->value_name("SECONDS"),
       "measuring time, 10..600: half for delay, a third for loss, the rest for throughput")
      ("stall-budget", po::value<double>()->default_value(HostAllowance{}.stall_ms)->value_name("MS"),
       "how long stalls of the host (or of badlink) may hold the path in all, per direction, "
       "0..60000 ms");
  // clang-format on
  return options;
}

po::options_description hidden_options() {
  po::options_description hidden;
  // clang-format off
  hidden.add_options()
      ("profile", po::value<std::string>(), "the profile to verify")
      // Testing verify itself: badlink runs this profile, verify expects PROFILE's figures.
      ("run-profile", po::value<std::string>(), "profile badlink run applies instead");
  // clang-format on
  return hidden;
}

struct VerifySetup {
  std::optional<std::string> profile_path;
  std::optional<std::string> run_profile_path;
  std::optional<std::string> json;
  std::optional<uint64_t> seed;
  double duration_s = 30;
  HostAllowance allowance;  // --stall-budget sets its stall_ms
};

VerifySetup parse_setup(const std::vector<std::string>& args) {
  po::options_description all;
  all.add(verify_options()).add(hidden_options());
  po::positional_options_description positional;
  positional.add("profile", 1);
  const po::variables_map vm = parse_command_line(args, all, positional);
  VerifySetup s;
  if (vm.count("profile") != 0) {
    s.profile_path = vm["profile"].as<std::string>();
  }
  if (vm.count("run-profile") != 0) {
    s.run_profile_path = vm["run-profile"].as<std::string>();
  }
  if (vm.count("json") != 0) {
    s.json = vm["json"].as<std::string>();
  }
  if (vm.count("seed") != 0) {
    s.seed = vm["seed"].as<uint64_t>();
  }
  s.duration_s = vm["duration"].as<double>();
  if (!(s.duration_s >= 10 && s.duration_s <= 600)) {
    throw UsageError("--duration must be 10..600 seconds");
  }
  s.allowance.stall_ms = vm["stall-budget"].as<double>();
  if (!(s.allowance.stall_ms >= 0 && s.allowance.stall_ms <= 60000)) {
    throw UsageError("--stall-budget must be 0..60000 ms");
  }
  return s;
}

std::string badlink_executable() {
  return std::filesystem::read_symlink("/proc/self/exe").string();
}

void print(const std::string& text) { std::cout << text << std::flush; }

void write_json(const std::string& destination, const std::string& json) {
  if (destination == "-") {
    print(json);
    return;
  }
  std::ofstream out(destination);
  out << json;
  if (!out) {
    throw std::runtime_error("cannot write --json " + destination);
  }
}

}  // namespace

std::string verify_help() {
  std::ostringstream out;
  out << "Usage: badlink verify [PROFILE] [--json FILE] [--seed N] [--duration SECONDS]\n"
         "\n"
         "Checks that badlink does what PROFILE says (without PROFILE: the built-in default,\n"
         "profiles/lte.toml). Builds a testbed of three network namespaces, client -- gateway --\n"
         "server (blv-<pid>-c/g/s, veth pairs, 198.51.100.0/24 and 203.0.113.0/24), runs\n"
         "'badlink run --wan' on the gateway with the profile's impairments, sends probe\n"
         "traffic through it in each impaired direction and measures at the receiver, outside\n"
         "badlink. Prints, per direction: figure | configured | measured | tolerance | ok for\n"
         "delay p50, mean and p99, jitter, stalls, loss, duplicates, reordering, corruption\n"
         "(when configured) and throughput (when a rate is). Everything it creates is removed\n"
         "on every way out, SIGINT and SIGTERM included.\n"
         "\n"
         "Tolerances are 4.5 standard errors of the sample sent (a correct badlink fails a\n"
         "figure about once in 150,000 runs): binomial for loss, the loss chain's asymptotic\n"
         "variance for gilbert-elliott and markov, order statistics for delay percentiles,\n"
         "sd/sqrt(n) for the mean (n reduced for correlation). Delay figures also allow what the\n"
         "path adds without badlink (measured first) and a fixed 0.5 ms (2 ms on p99) for the\n"
         "host's timer precision; throughput must be within 95..101% of the rate, widened by\n"
         "twice the delay's spread over the measuring window. Delay probes later than the\n"
         "law's largest draw + 2 ms come in runs when the host (or badlink) stalls: they are\n"
         "left out of the delay figures, and the time they held the path is the 'stalls'\n"
         "figure, which may reach 100 ms in all (--stall-budget).\n"
         "\n"
         "The profile's [match] is not verified: the probes are all the traffic there is.\n"
         "Needs root (namespaces, firewall rules). Takes about --duration seconds plus the\n"
         "profile's delays.\n"
         "\n"
      << verify_options()
      << "\n"
         "Exit status: 0 every figure within its tolerance, 1 a figure outside it (or a\n"
         "runtime failure: not root, the testbed could not be built, badlink run failed),\n"
         "2 bad usage or an invalid profile.\n";
  return out.str();
}

int verify_main(const std::vector<std::string>& args) {
  const VerifySetup setup = parse_setup(args);
  probe::VerifyRequest request;
  request.expected = setup.profile_path ? load_profile(*setup.profile_path)
                                        : default_profile();  // invalid: exit 2
  request.run = setup.run_profile_path ? load_profile(*setup.run_profile_path) : request.expected;
  require_one_link(request.expected, "verify");
  require_one_link(request.run, "verify");
  for (const Profile* p : {&request.expected, &request.run}) {
    const Link& link = p->single_link();
    if (has_trace(link)) {
      throw ProfileError({Diagnostic{
          p->source, link.position.line, link.position.column,
          "badlink verify measures a link that keeps its figures; this one follows a trace. "
          "Replay a capture through it instead"}});
    }
    if (link.outbound.slot.enabled() || link.inbound.slot.enabled()) {
      throw ProfileError({Diagnostic{
          p->source, link.position.line, link.position.column,
          "badlink verify has no model of slots (its delay tolerances assume packets leave when "
          "their delay ends); replay a capture through this profile instead"}});
    }
    if (!p->single_link().schedule.empty()) {
      // Never a verdict on a mixture of steps.
      throw ProfileError({Diagnostic{
          p->source, p->single_link().schedule.steps.front().position.line,
          p->single_link().schedule.steps.front().position.column,
          "badlink verify measures a link that keeps its figures; this one has a schedule. "
          "Verify each step as a profile of its own (badlink show prints them), or replay a "
          "capture through the schedule"}});
    }
  }
  if (::geteuid() != 0) {
    throw std::runtime_error(
        "badlink verify needs root: it creates network namespaces, veth pairs and firewall "
        "rules");
  }
  request.badlink = badlink_executable();
  request.seed = setup.seed;
  request.duration_s = setup.duration_s;
  request.allowance = setup.allowance;
  // Before any thread starts: SIGINT/SIGTERM/SIGHUP become events, so the testbed is always
  // taken down by the destructors on the way out.
  Interrupt interrupt;
  try {
    const probe::VerifyResult result = probe::verify(request, interrupt, print);
    print(probe::verify_report(result));
    if (setup.json) {
      write_json(*setup.json, json_text(probe::verify_json(result)));
    }
    return result.ok ? kExitOk : kExitFailure;
  } catch (const Interrupted& e) {
    spdlog::error("{}; the testbed is removed", e.what());
    return kExitFailure;
  }
}

}  // namespace badlink::cli
