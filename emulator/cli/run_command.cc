// `badlink run`: live traffic through a profile. Set-up (profile, capabilities, queues, rules)
// throws; then the loop runs until SIGINT/SIGTERM, reloading on SIGHUP and writing stats on
// SIGUSR1, and everything installed is removed on every way out.
#include <fcntl.h>
#include <fmt/format.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>

#include "api/endpoint.hh"
#include "api/http_server.hh"
#include "api/loop_control.hh"
#include "api/routes.hh"
#include "cli/command.hh"
#include "core/allocation_count.hh"
#include "core/clock.hh"
#include "divert/linux/linux_diversion.hh"
#include "divert/live_driver.hh"
#include "io/replacement_file.hh"
#include "live/control_queue.hh"
#include "live/controller.hh"
#include "live/runtime.hh"
#include "live/runtime_snapshot.hh"
#include "profile/default_profile.hh"
#include "profile/profile.hh"
#include "sys/capabilities.hh"
#include "sys/scheduling.hh"
#include "sys/seccomp_filter.hh"
#include "sys/signal_fd.hh"
#include "sys/system_error.hh"
#include "sys/timer_fd.hh"

namespace po = boost::program_options;

namespace badlink::cli {

namespace {

constexpr uint16_t kDefaultQueue = 4200;
constexpr uint32_t kDefaultMark = 0x6261646c;  // "badl"
constexpr uint64_t kDefaultMaxPps = 100000;
constexpr uint64_t kDefaultFloodPps = PriorityPolicy{}.flood_pps;
// The packet loop's nice value and slice request (see set_loop_scheduling): it runs 10-50 us
// per wake-up, so the shortest slice the kernel grants (0.1 ms) covers it.
constexpr int kDefaultNice = -20;
constexpr Duration kLoopSlice = std::chrono::microseconds(100);

po::options_description run_options() {
  po::options_description options("Run options");
  // clang-format off
  options.add_options()
      ("profile,p", po::value<std::string>()->value_name("PROFILE"),
       "the profile to apply (SIGHUP reloads it); default: the built-in LTE profile")
      ("wan", po::value<std::string>()->value_name("IFACE"),
       "gateway mode: impair traffic this host forwards; outbound leaves through IFACE, "
       "inbound arrives from it")
      ("no-rules", "install no firewall rules: use the rules you wrote (needs --queue)")
      ("queue", po::value<std::string>()->value_name("N"),
       "the profile's first link's NFQUEUE pair: badlink's rules queue its outbound packets to "
       "N, inbound to N+1, and link n's (from 0) to N+2n and N+2n+1 (default 4200, or the next "
       "free block); with --no-rules it reads them, each packet's direction taken from where "
       "your rule caught it")
      ("seed,s", po::value<std::string>()->value_name("N"),
       "seed for the random choices (overrides the profile's)")
      ("dump", "print one line per diverted packet on standard output")
      ("nice", po::value<std::string>()->value_name("N"),
       "the packet loop's nice value while it times departures, -20..19 (default -20, with a "
       "0.1 ms slice request: a departure does not wait for other tasks; needs CAP_SYS_NICE "
       "below 0). It runs at nice 0 while it reads a flood (--flood-pps) or has nothing to time")
      ("flood-pps", po::value<std::string>()->value_name("N"),
       "packets read per second from which the packet loop yields its priority (nice 0) to the "
       "senders and receivers it serves, until the rate falls below half (default 20000; 0: "
       "never)")
      ("realtime", "run the packet loop under SCHED_FIFO instead: no fair task delays a "
       "departure, at the price of a CPU other tasks cannot have while it waits out the last "
       "microseconds")
      ("stats-interval", po::value<std::string>()->default_value("10")->value_name("SECONDS"),
       "log a one-line summary this often (0: never)")
      ("stats-json", po::value<std::string>()->value_name("FILE"),
       "write counters as JSON at exit and on SIGUSR1 (\"-\": standard output)")
      ("mark", po::value<std::string>()->value_name("MARK"),
       "SO_MARK of the packets badlink sends itself; rules skip it (default 0x6261646c)")
      ("max-pps", po::value<std::string>()->value_name("N"),
       "highest packet rate to hold for: sizes the kernel queues (default 100000)")
      ("api", po::value<std::string>()->value_name("ENDPOINT"),
       "the control API's address: unix:PATH (default unix:/run/badlink/<pid>.sock, mode "
       "0660), 127.0.0.1:PORT or [::1]:PORT; any other address needs --api-token-file")
      ("api-token-file", po::value<std::string>()->value_name("FILE"),
       "the API asks every request for \"Authorization: Bearer TOKEN\", TOKEN being FILE's "
       "content")
      ("no-api", "no control API")
      ("no-seccomp", "load no seccomp filter (by default, once set-up is done, every thread may "
       "make only the system calls badlink needs)");
  // clang-format on
  return options;
}

// An option's integer from `min` to `max` (decimal; an unsigned one also hex after 0x), else a
// UsageError that names the option, the range and the text.
template <class T>
T parse_integer(const std::string& option, const std::string& text, T min, T max) {
  std::string_view digits = text;
  int base = 10;
  if (std::is_unsigned_v<T> && (digits.starts_with("0x") || digits.starts_with("0X"))) {
    digits.remove_prefix(2);
    base = 16;
  }
  T value = 0;
  const char* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, value, base);
  if (digits.empty() || ec != std::errc{} || ptr != end || value < min || value > max) {
    throw UsageError("--" + option + " must be an integer from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", not '" + text + "'");
  }
  return value;
}

uint64_t parse_number(const std::string& option, const std::string& text, uint64_t max) {
  return parse_integer<uint64_t>(option, text, 0, max);
}

uint64_t random_seed() {
  std::random_device device;
  return (uint64_t{device()} << 32) | device();
}

double millis(Duration d) { return static_cast<double>(d.count()) / 1e6; }

struct RunSetup {
  std::string profile_path;
  DiversionMode mode = DiversionMode::host;
  std::string wan;
  bool rules = true;
  bool queue_given = false;
  uint16_t queue = kDefaultQueue;
  std::optional<uint64_t> seed;
  bool dump = false;
  bool realtime = false;
  int nice = kDefaultNice;
  bool nice_given = false;
  Duration stats_interval = std::chrono::seconds(10);
  std::optional<std::string> stats_json;
  uint32_t mark = kDefaultMark;
  uint64_t max_pps = kDefaultMaxPps;
  uint64_t flood_pps = kDefaultFloodPps;
  bool seccomp = true;
  std::optional<api::Endpoint> api;  // none: --no-api
  bool api_default = false;          // the default socket, also linked as badlink.sock
  std::string api_token;
};

std::string read_token(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw UsageError("--api-token-file " + file + ": cannot read");
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
    token.pop_back();
  }
  if (token.empty()) {
    throw UsageError("--api-token-file " + file + " is empty");
  }
  return token;
}

// --api, --api-token-file, --no-api.
void parse_api_setup(const po::variables_map& vm, RunSetup& s) {
  if (vm.count("no-api") != 0) {
    if (vm.count("api") != 0 || vm.count("api-token-file") != 0) {
      throw UsageError("--no-api excludes --api and --api-token-file");
    }
    return;
  }
  if (vm.count("api-token-file") != 0) {
    s.api_token = read_token(vm["api-token-file"].as<std::string>());
  }
  if (vm.count("api") == 0) {
    s.api = api::parse_endpoint("unix:" + api::default_socket_path(::getpid()));
    s.api_default = true;
    return;
  }
  try {
    s.api = api::parse_endpoint(vm["api"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--api ") + e.what());
  }
  if (!s.api->local() && s.api_token.empty()) {
    throw UsageError("--api " + s.api->to_string() +
                     " can be reached from other hosts: give --api-token-file FILE (a bearer "
                     "token every request must carry), or listen on 127.0.0.1, [::1] or unix:");
  }
}

RunSetup parse_setup(const std::vector<std::string>& args) {
  const po::options_description options = run_options();
  const po::variables_map vm = parse_command_line(args, options);

  RunSetup s;
  if (vm.count("profile") != 0) {
    s.profile_path = vm["profile"].as<std::string>();
  }
  if (vm.count("wan") != 0) {
    s.mode = DiversionMode::gateway;
    s.wan = vm["wan"].as<std::string>();
    if (s.wan.empty() || s.wan.size() >= IF_NAMESIZE) {
      throw UsageError("--wan needs an interface name of 1 to 15 characters");
    }
  }
  s.rules = vm.count("no-rules") == 0;
  if (vm.count("queue") != 0) {
    s.queue_given = true;
    s.queue = static_cast<uint16_t>(parse_number("queue", vm["queue"].as<std::string>(), 65534));
  } else if (!s.rules) {
    throw UsageError(
        "--no-rules needs --queue N: the NFQUEUE number your rules use (N+1 is read "
        "too)");
  }
  if (vm.count("seed") != 0) {
    s.seed = parse_number("seed", vm["seed"].as<std::string>(), UINT64_MAX);
  }
  s.dump = vm.count("dump") != 0;
  s.realtime = vm.count("realtime") != 0;
  s.seccomp = vm.count("no-seccomp") == 0;
  if (vm.count("nice") != 0) {
    s.nice = parse_integer("nice", vm["nice"].as<std::string>(), -20, 19);
    if (s.realtime) {
      throw UsageError("--nice and --realtime exclude each other: SCHED_FIFO has no nice value");
    }
    s.nice_given = true;
  }
  s.stats_interval = std::chrono::seconds(
      parse_number("stats-interval", vm["stats-interval"].as<std::string>(), 86400));
  if (vm.count("stats-json") != 0) {
    s.stats_json = vm["stats-json"].as<std::string>();
  }
  if (vm.count("mark") != 0) {
    s.mark = static_cast<uint32_t>(parse_number("mark", vm["mark"].as<std::string>(), UINT32_MAX));
    if (s.mark == 0) {
      throw UsageError("--mark must not be 0: unmarked packets are the ones to divert");
    }
  }
  if (vm.count("flood-pps") != 0) {
    if (s.realtime) {
      throw UsageError("--flood-pps and --realtime exclude each other: SCHED_FIFO is not lowered");
    }
    s.flood_pps = parse_number("flood-pps", vm["flood-pps"].as<std::string>(), 100'000'000);
  }
  if (vm.count("max-pps") != 0) {
    s.max_pps = parse_number("max-pps", vm["max-pps"].as<std::string>(), 100'000'000);
    if (s.max_pps == 0) {
      throw UsageError("--max-pps must be at least 1");
    }
  }
  parse_api_setup(vm, s);
  return s;
}

void require_interface(const std::string& name, const std::string& what) {
  if (::if_nametoindex(name.c_str()) == 0) {
    throw UsageError(what + ": there is no interface '" + name +
                     "' (in this network namespace); nothing was installed");
  }
}

// The capabilities live mode needs, with what each is for.
void require_capabilities() {
  constexpr std::array needed{Capability::net_admin, Capability::net_raw};
  const std::vector<Capability> missing = missing_capabilities(needed);
  if (missing.empty()) {
    return;
  }
  std::string names;
  for (const Capability c : missing) {
    names += (names.empty() ? "" : " and ") + std::string(to_string(c));
  }
  throw std::runtime_error(
      "missing " + names +
      ". badlink run needs CAP_NET_ADMIN (NFQUEUE, firewall rules, socket marks) and "
      "CAP_NET_RAW (raw sockets to send packets back); run it as root, or grant them with "
      "'setcap cap_net_admin,cap_net_raw+ep BADLINK'");
}

void write_json_file(const std::string& file, const std::string& text) {
  if (file == "-") {
    std::cout << text << std::flush;
    return;
  }
  ReplacementFile replacement(file);
  {
    std::ofstream stream(replacement.path(), std::ios::binary | std::ios::trunc);
    stream << text;
    stream.close();
    if (!stream) {
      throw std::system_error(errno, std::generic_category(), "write(" + file + ")");
    }
  }
  replacement.commit();
}

}  // namespace

std::string run_help() {
  std::ostringstream out;
  out << "Usage: badlink run [--profile PROFILE] [--wan IFACE] [--no-rules --queue N]\n"
         "                   [--seed N] [--dump] [--nice N | --realtime]\n"
         "                   [--stats-interval SECONDS] [--stats-json FILE]\n"
         "\n"
         "Impairs live traffic as the profile says until SIGINT or SIGTERM. Packets are taken\n"
         "with NFQUEUE (iptables NFQUEUE rules; nft's native 'queue' is not needed) and handed\n"
         "back with their divert address, as on a divert(4) socket.\n"
         "\n"
         "Host mode (default): outbound is what this host sends (OUTPUT), inbound what it\n"
         "receives (INPUT); loopback is left alone unless [match] interface names it.\n"
         "Gateway mode (--wan IFACE): traffic this host forwards; outbound leaves through\n"
         "IFACE (FORWARD -o IFACE), inbound arrives from it (FORWARD -i IFACE).\n"
         "\n"
         "Links: every link of the profile is impaired on its own, with a queue pair of its\n"
         "own (--queue). Its packets are the ones its match takes and no earlier link's does.\n"
         "\n"
         "Rules: badlink installs, for IPv4 and IPv6, chains BADLINK-<pid>-OUT and\n"
         "BADLINK-<pid>-IN in the mangle table holding each link's match in turn (comment\n"
         "\"badlink\"), and jumps to them at the top of OUTPUT/INPUT or FORWARD. They are\n"
         "removed on every exit. Every rule uses --queue-bypass: while no badlink listens,\n"
         "matching traffic passes unimpaired instead of being dropped, so a killed badlink\n"
         "never black-holes traffic. After kill -9, 'badlink cleanup' removes the rules left.\n"
         "A direction the profile leaves unimpaired is not diverted at all (its jump is left\n"
         "out until a reload impairs it; --dump diverts it anyway).\n"
         "In host mode badlink also creates the nf_tables table 'inet badlink-<pid>': at\n"
         "OUTPUT, just before mangle, it writes the kernel's time into the mark of exactly\n"
         "the packets the OUTPUT rules queue (the kernel stamps no packet there), so what this\n"
         "host sends is timed from when it was sent, not from when badlink read it. The\n"
         "kernel deletes the table with badlink's socket, on any exit, even kill -9.\n"
         "\n"
         "--no-rules: badlink installs nothing and reads NFQUEUE N and N+1 (link n: N+2n and\n"
         "N+2n+1); either may carry both directions. A packet's direction is where your rule caught it, as a divert(4)\n"
         "socket reports it: OUTPUT and POSTROUTING are outbound, INPUT and PREROUTING\n"
         "inbound; with --wan, what is caught in PREROUTING, FORWARD or POSTROUTING is\n"
         "outbound when it leaves through IFACE, inbound when it arrives from it. A packet none\n"
         "of this places (FORWARD without --wan, a forwarded packet that crosses no WAN side)\n"
         "is passed unimpaired and counted (passed_unclassified). (Before, N was read as\n"
         "outbound and N+1 as inbound whatever the hook; rules written that way still work.)\n"
         "Your rules must skip the packets badlink sends itself, which carry --mark (default\n"
         "0x6261646c):\n"
         "  iptables -t mangle -A OUTPUT -m mark ! --mark 0x6261646c -j NFQUEUE --queue-num N \\\n"
         "           --queue-bypass\n"
         "  iptables -t mangle -A INPUT -m mark ! --mark 0x6261646c -j NFQUEUE --queue-num N \\\n"
         "           --queue-bypass\n"
         "Packets a local socket sent (caught in OUTPUT, or in POSTROUTING) are copied, dropped\n"
         "at once and sent again through a raw socket at their departure time, so that a\n"
         "sender is never throttled by packets held in flight; all others (INPUT, FORWARD,\n"
         "PREROUTING) are held by the kernel and accepted at departure.\n"
         "\n"
         "Signals: SIGHUP reloads the profile, whole or not at all. One that fails validation,\n"
         "or whose rules cannot be installed, is rejected (the reasons are logged) and the old\n"
         "one keeps running. Changed matches are applied: the new rules go in beside the\n"
         "running ones (chains ...-OUT-B and ...-IN-B, then back), their jumps on top, and the\n"
         "old ones go. A link keeps its counters and state by its name. A new link needs a\n"
         "restart (its queues are bound at start); one taken away keeps its queues unused.\n"
         "SIGUSR1 writes --stats-json now. SIGINT/SIGTERM stop: the rules go first, then every\n"
         "packet still held is sent at once.\n"
         "\n"
         "Control API (README, \"Control from your tests\"): HTTP/JSON on --api (default\n"
         "unix:/run/badlink/<pid>.sock, also linked as /run/badlink/badlink.sock while it is\n"
         "the only instance): GET/PUT /v1/profile, GET /v1/links, PATCH\n"
         "/v1/links/NAME/outbound|inbound, POST /v1/reset, GET /v1/stats, GET /metrics\n"
         "(Prometheus), GET /healthz. A change is applied as a reload is, whole or not at all,\n"
         "and logged with who made it. badlink ctl is its command-line client.\n"
         "\n"
         "The seed is --seed, else the profile's, else a random one; the seed used is logged.\n"
         "Needs CAP_NET_ADMIN and CAP_NET_RAW (root has them); every other capability is\n"
         "dropped once the queues and rules are set up. CAP_SYS_NICE, if held, is used first:\n"
         "the packet loop runs at nice -20 with a 0.1 ms slice request (--nice N chooses the\n"
         "value; without CAP_SYS_NICE the default falls back to nice 0 with a warning), or\n"
         "under SCHED_FIFO with --realtime. Except under --realtime it yields (nice 0) while\n"
         "it has nothing to time or reads more than --flood-pps packets/s, as long as its\n"
         "departures stay within 1 ms of their time; CAP_SYS_NICE is kept, not effective,\n"
         "to raise it again.\n"
         "\n"
      << run_options()
      << "\n"
         "Exit status: 0 stopped by a signal, 1 runtime failure (missing capability, queue in\n"
         "use, iptables failed), 2 bad usage, invalid profile or missing interface.\n";
  return out.str();
}

// No --profile: the built-in default (profiles/lte.toml, embedded in the binary).
Profile load_run_profile(const std::string& path) {
  return path.empty() ? default_profile() : load_profile(path);
}

// Where the packet loop stands in the scheduler (see sys/scheduling.hh). --realtime: SCHED_FIFO
// or fail. Otherwise the fair scheduler, at --nice (default -20) with a short slice request;
// without CAP_SYS_NICE the default falls back to nice 0 with a warning (an explicit --nice
// fails instead). Returns the fair settings the loop got (nullopt: SCHED_FIFO).
std::optional<FairScheduling> set_loop_scheduling(const RunSetup& setup) {
  if (setup.realtime) {
    // The spin before a departure is bounded (max_early_wake), and the kernel's RT throttling
    // stays in force.
    constexpr int kPriority = 10;
    try {
      set_fifo_scheduling(kPriority);
    } catch (const SystemError& e) {
      throw SystemError(std::string("--realtime") +
                            (e.error() == EPERM ? " (SCHED_FIFO needs CAP_SYS_NICE)" : "") + ": " +
                            e.attempt(),
                        e.error());
    }
    spdlog::info("--realtime: the packet loop runs under SCHED_FIFO priority {}", kPriority);
    return std::nullopt;
  }
  FairScheduling want{setup.nice, kLoopSlice};
  try {
    set_fair_scheduling(want);
  } catch (const SystemError& e) {
    if (e.error() == EPERM && setup.nice_given && want.nice < 0) {
      throw SystemError(
          "--nice " + std::to_string(want.nice) + " (below 0 needs CAP_SYS_NICE): " + e.attempt(),
          e.error());
    }
    if (e.error() != EPERM || want.nice >= 0) {
      throw;
    }
    spdlog::warn(
        "{}; the packet loop keeps nice 0 (departures may wait for other tasks; give "
        "CAP_SYS_NICE, or --nice 0 to silence this)",
        e.what());
    want.nice = 0;
    set_fair_scheduling(want);
  }
  const FairScheduling got = fair_scheduling();
  spdlog::info("the packet loop runs at nice {}, slice {}", got.nice,
               got.slice ? fmt::format("{:.2f} ms", millis(*got.slice)) : "the kernel's default");
  return got;
}

// The loop's weight while it reads a flood or has nothing to time (PriorityGovernor), when it
// runs raised. Raising it back needs CAP_SYS_NICE again (unless RLIMIT_NICE allows it): the
// capability is held back, permitted but not effective, and raised only for that call.
std::optional<PriorityPolicy> loop_priority_policy(const RunSetup& setup,
                                                   const std::optional<FairScheduling>& got) {
  if (!got || got->nice >= 0) {
    return std::nullopt;
  }
  PriorityPolicy policy;
  policy.raised_nice = got->nice;
  policy.flood_pps = setup.flood_pps;
  if (setup.flood_pps > 0) {
    spdlog::info(
        "the packet loop yields (nice {}) while it reads more than {} packets/s or has nothing "
        "to time",
        policy.lowered_nice, setup.flood_pps);
  }
  return policy;
}

// Sets the loop thread's nice value for the governor; false (logged) when it cannot.
bool apply_loop_nice(int nice) {
  const FairScheduling want{
      nice, nice < 0 ? std::optional<Duration>(kLoopSlice) : std::optional<Duration>()};
  try {
    try {
      set_fair_scheduling(want);
    } catch (const SystemError& e) {
      if (e.error() != EPERM || !permitted(Capability::sys_nice)) {
        throw;
      }
      const ScopedCapability nice_capability(Capability::sys_nice);
      set_fair_scheduling(want);
    }
  } catch (const SystemError& e) {
    spdlog::warn("the packet loop's priority stays as it is: {}", e.what());
    return false;
  }
  spdlog::debug("the packet loop runs at nice {}", nice);
  return true;
}

// The profile's links as `run` can divert them; a UsageError (exit 2 at start, a rejected
// reload on SIGHUP) otherwise.
void check_links(const Profile& profile, const RunSetup& setup) {
  for (const Link& link : profile.links) {
    if (setup.mode == DiversionMode::gateway && !link.match.interface.empty() &&
        link.match.interface != setup.wan) {
      throw UsageError(profile.source + ": link '" + link.name + "': [match] interface is '" +
                       link.match.interface + "' but --wan is '" + setup.wan +
                       "'; in gateway mode --wan decides");
    }
  }
}

LinuxDiversionOptions diversion_options(const RunSetup& setup) {
  LinuxDiversionOptions o;
  o.mode = setup.mode;
  o.wan = setup.wan;
  o.rules = setup.rules;
  o.queue = setup.queue;
  o.queue_given = setup.queue_given;
  o.dump = setup.dump;
  o.mark = setup.mark;
  o.max_pps = setup.max_pps;
  return o;
}

// A counting build (tests/bench) keeps the snapshots' own allocations out of
// heap_allocations, so that two snapshots differ only by what the loop allocated; they are
// reported beside it as json_allocations. The loop's thread is the only caller.
std::string stats_json(const Runtime& runtime) {
  static uint64_t json_allocations = 0;
  const std::optional<uint64_t> before = allocation_count();
  const RuntimeSnapshot snapshot = runtime.snapshot();
  std::string text = snapshot_json(
      snapshot, before ? std::optional<uint64_t>(*before - json_allocations) : std::nullopt,
      json_allocations);
  if (before) {
    json_allocations += allocation_count().value_or(0) - *before;
  }
  return text;
}

// SIGHUP: the profile is read and checked here, and its rules are prepared beside the loop
// (Runtime::prepare_in_background); applied() commits it once they are ready.
void start_reload(Runtime& runtime, const RunSetup& setup) {
  try {
    Profile next = load_run_profile(setup.profile_path);
    check_links(next, setup);
    for (const Link& link : next.links) {
      if (!link.match.interface.empty()) {
        require_interface(link.match.interface,
                          next.source + ": link '" + link.name + "': [match] interface");
      }
    }
    runtime.prepare_in_background(std::move(next));
  } catch (const ProfileError& e) {
    for (const Diagnostic& d : e.diagnostics()) {
      spdlog::error("{}", d.to_string());
    }
    spdlog::error("reload rejected; still running profile '{}'", runtime.profile().name);
  } catch (const std::exception& e) {
    spdlog::error("reload rejected: {}; still running profile '{}'", e.what(),
                  runtime.profile().name);
  }
}

bool finish_reload(Runtime& runtime) {
  try {
    runtime.commit(runtime.take_prepared());
    spdlog::info("reloaded profile '{}' ({})", runtime.profile().name, runtime.profile().source);
    return true;
  } catch (const std::exception& e) {
    spdlog::error("reload rejected: {}; still running profile '{}'", e.what(),
                  runtime.profile().name);
    return false;
  }
}

int run_main(const std::vector<std::string>& args) {
  // First of all: from here on SIGINT/SIGTERM wait for the loop, which exits cleanly, and a
  // closed standard output (--dump | head) is an error to count, not a silent death.
  SignalFd signals({SIGINT, SIGTERM, SIGHUP, SIGUSR1});
  ::signal(SIGPIPE, SIG_IGN);

  const RunSetup setup = parse_setup(args);
  Profile profile = load_run_profile(setup.profile_path);  // invalid: never starts (exit 2)
  check_links(profile, setup);
  require_capabilities();
  if (setup.mode == DiversionMode::gateway) {
    require_interface(setup.wan, "--wan");
  }
  for (const Link& link : profile.links) {
    if (!link.match.interface.empty()) {
      require_interface(link.match.interface,
                        profile.source + ": link '" + link.name + "': [match] interface");
    }
  }

  uint64_t seed = 0;
  if (setup.seed) {
    seed = *setup.seed;
    spdlog::info("seed {} (from --seed)", seed);
  } else if (profile.seed) {
    seed = *profile.seed;
    spdlog::info("seed {} (from the profile)", seed);
  } else {
    seed = random_seed();
    spdlog::info("seed {} (use --seed {} to repeat)", seed, seed);
  }

  // Before the capabilities go (CAP_SYS_NICE), and before the calibrator's thread starts (it
  // inherits the setting).
  const std::optional<FairScheduling> scheduling = set_loop_scheduling(setup);
  const std::optional<PriorityPolicy> priority = loop_priority_policy(setup, scheduling);

  // Capabilities belong to each thread: dropped before the loop's helper threads start (the
  // wake-up calibrator's, a reload's), which inherit what this one holds then.
  constexpr std::array keep{Capability::net_admin, Capability::net_raw};
  constexpr std::array nice_held{Capability::sys_nice};
  keep_only_capabilities(keep, priority && permitted(Capability::sys_nice)
                                   ? std::span<const Capability>(nice_held)
                                   : std::span<const Capability>());
  set_timer_slack(Duration{1});

  const SteadyClock clock;
  LiveOptions live;
  live.stats_interval = setup.stats_interval;
  live.dump = setup.dump ? stdout : nullptr;
  live.priority = priority;
  live.apply_nice = apply_loop_nice;
  const LinuxDiversionOptions diversion = diversion_options(setup);
  Runtime runtime(
      std::move(profile), seed,
      [&diversion](const DiversionPlan& plan) {
        return std::make_unique<LinuxDiversion>(diversion, plan);
      },
      clock, signals, live);

  // The control API: its threads reach the loop only through the queue, which the loop reads
  // as one of its event sources (live/Controller); they start before the seccomp filter.
  ControlQueue control_queue;
  Controller controller(runtime, control_queue, [&setup](const Profile& next) {
    check_links(next, setup);
    for (const Link& link : next.links) {
      if (!link.match.interface.empty()) {
        require_interface(link.match.interface, "link '" + link.name + "': [match] interface");
      }
    }
  });
  // Views (GET /metrics, /v1/stats) are served again for 100 ms: scrapers, however many,
  // cost the loop at most ten snapshots a second.
  api::LoopControl control(control_queue, runtime.profile(), std::chrono::seconds(30),
                           std::chrono::milliseconds(100));
  std::unique_ptr<api::HttpServer> api_server;
  if (setup.api) {
    api::HttpServer::Options options;
    if (setup.api_default) {
      options.shared_link = std::string(api::kSharedSocketPath);
    }
    // The API's threads inherit the loop's weight (nice -20, short slice): they give it back.
    options.thread_start = []() {
      try {
        set_fair_scheduling(FairScheduling{0, std::nullopt});
      } catch (const SystemError& e) {
        spdlog::warn("control API thread: {}", e.what());
      }
    };
    const api::RouteOptions routes{setup.api_token, BADLINK_VERSION};
    try {
      api_server = std::make_unique<api::HttpServer>(
          *setup.api,
          [&control, routes](const api::Request& r) { return api::route(r, control, routes); },
          options);
    } catch (const std::runtime_error& e) {
      if (!setup.api_default) {
        throw;  // asked for: a failure to start (exit 1)
      }
      // Not asked for (e.g. no write access to /run): badlink runs as it did without one.
      spdlog::warn("{}; running without the control API (--api ENDPOINT to choose one)",
                   e.what());
    }
    if (api_server) {
      api_server->start();
      spdlog::info("control API on {}{}", api_server->where(),
                   setup.api_token.empty() ? "" : " (bearer token required)");
    }
  }
  // However the loop ends: what waits for it is answered first, then the server stops.
  struct ApiStop {
    Controller& controller;
    std::unique_ptr<api::HttpServer>& server;
    ~ApiStop() {
      controller.close();
      if (server) {
        server->stop();
      }
    }
  } api_stop{controller, api_server};


  const auto write_stats = [&]() {
    if (!setup.stats_json) {
      return;  // the summary line is logged at each SIGUSR1 and at the end
    }
    try {
      write_json_file(*setup.stats_json, stats_json(runtime));
    } catch (const std::exception& e) {
      spdlog::error("--stats-json: {}", e.what());
    }
  };

  // Last of the set-up: from here every thread, and the iptables it runs, keeps to the list.
  if (setup.seccomp) {
    const SeccompFilter filter;
    filter.load();
    spdlog::info("seccomp: {} system calls allowed, {} kill the process, the rest fail (EPERM)",
                 filter.allowed_count(), filter.killing_count());
  }
  spdlog::info("running profile '{}' ({}, {} link{}); SIGHUP reloads, SIGINT/SIGTERM stop",
               runtime.profile().name, runtime.profile().source, runtime.profile().links.size(),
               runtime.profile().links.size() == 1 ? "" : "s");
  bool reload_again = false;  // SIGHUP while a reload was being prepared
  for (;;) {
    const LiveEvent event = runtime.run();
    if (event.kind == LiveEvent::Kind::stop) {
      spdlog::info("{}: stopping", ::strsignal(event.signal));
      break;
    }
    switch (event.kind) {
      case LiveEvent::Kind::stats_tick:
        spdlog::info("stats: {}", snapshot_line(runtime.snapshot()));
        break;
      case LiveEvent::Kind::write_stats:
        if (!setup.stats_json) {
          spdlog::info("stats: {}", snapshot_line(runtime.snapshot()));
        }
        write_stats();
        break;
      case LiveEvent::Kind::reload:
        if (runtime.preparing()) {
          // the file may have changed since this one was read (or an API change is prepared)
          reload_again = true;
        } else {
          start_reload(runtime, setup);
        }
        break;
      case LiveEvent::Kind::source:
        if (controller.handle(event)) {
          // the API's command or change; a SIGHUP that waited for it goes next
        } else if (event.source == runtime.prepared_source() && runtime.preparing()) {
          if (finish_reload(runtime)) {
            controller.reloaded();
          }
        }
        if (reload_again && !runtime.preparing()) {
          reload_again = false;
          start_reload(runtime, setup);
        }
        controller.resume();
        break;
      case LiveEvent::Kind::stop:
        break;
    }
  }

  // Orderly end: no new packets (rules gone), then everything held goes on at once.
  runtime.finish();
  spdlog::info("stats: {}", snapshot_line(runtime.snapshot()));
  write_stats();  // a failure is logged: a stop by a signal still exits 0
  return kExitOk;
}

}  // namespace badlink::cli
