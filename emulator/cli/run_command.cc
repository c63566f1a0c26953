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

#include "cli/command.hh"
#include "core/allocation_count.hh"
#include "core/clock.hh"
#include "core/packet_pool.hh"
#include "divert/firewall.hh"
#include "divert/kernel_queue_stats.hh"
#include "divert/live_driver.hh"
#include "divert/nfqueue_backend.hh"
#include "divert/output_stamps.hh"
#include "engine/engine.hh"
#include "impairments/delay.hh"
#include "io/json_text.hh"
#include "io/replacement_file.hh"
#include "io/stats_json.hh"
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
constexpr int kQueueAttempts = 8;              // default queue pairs tried when one is taken
constexpr uint32_t kDefaultMark = 0x6261646c;  // "badl"
constexpr uint64_t kDefaultMaxPps = 100000;
constexpr uint64_t kDefaultFloodPps = PriorityPolicy{}.flood_pps;
constexpr uint32_t kMinQueueLength = 1024;
constexpr uint32_t kMaxQueueLength = 262144;
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
       "badlink's rules queue outbound packets to NFQUEUE N, inbound to N+1 (default 4200, or "
       "the next free pair); with --no-rules it reads N and N+1, each packet's direction "
       "taken from where your rule caught it")
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

// Packets the kernel may have to hold per queue: the profile's longest delay (its jitter
// counted four times over) at the highest rate expected, plus the bottleneck queue.
uint32_t queue_length_for(const Profile& profile, uint64_t max_pps) {
  double longest = 0.0;
  uint64_t backlog = 0;
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    const DirectionConfig& c = profile.single_link().direction(d);
    longest =
        std::max(longest, static_cast<double>((c.delay.delay + 4 * c.delay.jitter).count()) / 1e9);
    backlog = std::max<uint64_t>(backlog, c.queue.packets == 0 ? 10000 : c.queue.packets);
  }
  const double wanted =
      static_cast<double>(max_pps) * longest + static_cast<double>(backlog) + kMinQueueLength;
  return static_cast<uint32_t>(
      std::clamp(wanted, double{kMinQueueLength}, double{kMaxQueueLength}));
}

DirectionConfigs configs_of(const Profile& p) {
  DirectionConfigs configs{};
  configs[index_of(Direction::outbound)] = p.single_link().outbound;
  configs[index_of(Direction::inbound)] = p.single_link().inbound;
  return configs;
}

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
};

// Packets with the kernel's arrival stamp need not be read when they come: when a direction
// delays each of them by at least a millisecond, the loop need not watch its queue between
// departures (LiveDriver::set_arrival_slack). Forwarded and received packets are stamped by
// the kernel; what this host sends is stamped when OutputStamps are in (`outbound_stamped`),
// and its sender's socket stays charged for a queued packet until badlink reads it and
// answers NF_DROP, which an unwatched sleep bounds to 2 ms (LiveOptions::max_unwatched_wait):
// at 5,000 UDP packets/s and for TCP at 20 ms each way the sender kept its rate. Host mode's
// inbound is read while the loop spins before the departures (set_arrival_slack's
// read_while_spinning): the application a departure wakes is often placed on the loop's CPU
// and runs only once the loop sleeps, and reading after the departures doubled its p99
// (BENCHMARKS.md section 4); for outbound, reading in the spin made the p99 worse. Not with the
// user's own rules (they may queue anything), and not for a direction that changes nothing (its
// packets are passed on as soon as they come).
std::optional<Duration> arrival_slack_for(const Profile& profile, Direction d,
                                          const RunSetup& setup, bool outbound_stamped) {
  constexpr Duration kLeast = std::chrono::milliseconds(1);
  const DirectionConfig& c = profile.single_link().direction(d);
  const bool stamped =
      d == Direction::inbound || setup.mode == DiversionMode::gateway || outbound_stamped;
  if (!setup.rules || !stamped || c.is_passthrough()) {
    return std::nullopt;
  }
  const Duration slack = soonest_departure(c);
  return slack >= kLeast ? std::optional<Duration>(slack) : std::nullopt;
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

std::unique_ptr<NfqueueBackend> open_backend(const RunSetup& setup, uint32_t max_length) {
  for (int attempt = 0;; ++attempt) {
    const uint32_t base = setup.queue + 2U * static_cast<uint32_t>(attempt);
    NfqueueOptions options;
    // Each packet's direction is its own (where it was caught); badlink's rules put each
    // direction on a queue of its own, so the loop may leave one unwatched. The user's may put
    // either anywhere.
    constexpr std::array<bool, kDirections> kOutbound{true, false};
    constexpr std::array<bool, kDirections> kInbound{false, true};
    constexpr std::array<bool, kDirections> kEither{true, true};
    options.queues = {
        QueueBinding{static_cast<uint16_t>(base), setup.rules ? kOutbound : kEither},
        QueueBinding{static_cast<uint16_t>(base + 1), setup.rules ? kInbound : kEither}};
    options.wan_ifindex =
        setup.mode == DiversionMode::gateway ? ::if_nametoindex(setup.wan.c_str()) : 0;
    options.max_length = max_length;
    options.reinject_mark = setup.mark;
    try {
      return std::make_unique<NfqueueBackend>(options);
    } catch (const SystemError& e) {
      // Another socket's queue answers EPERM (EBUSY on some kernels); tell that apart from a
      // real permission problem by whether the kernel lists the queue as bound.
      const std::array<uint16_t, 2> pair{static_cast<uint16_t>(base),
                                         static_cast<uint16_t>(base + 1)};
      const bool taken = e.error() == EBUSY || e.error() == EEXIST ||
                         (e.error() == EPERM && !read_kernel_queue_stats(pair).empty());
      if (!taken) {
        throw;
      }
      if (setup.queue_given || attempt + 1 >= kQueueAttempts || base + 3 > 65535) {
        throw std::runtime_error("NFQUEUE " + std::to_string(base) + " or " +
                                 std::to_string(base + 1) +
                                 " is bound by another program (another badlink?); choose other "
                                 "queues with --queue");
      }
      spdlog::debug("NFQUEUE {}/{} is taken; trying the next pair", base, base + 1);
    }
  }
}

// ---- reporting ----------------------------------------------------------------------------

struct LiveReport {
  std::string profile_name;
  uint64_t seed = 0;
  const RunSetup* setup = nullptr;
  std::vector<uint16_t> queues;
  std::array<bool, kDirections> diverted{};  // whose rules queue packets now (--no-rules: both)
  double uptime_s = 0.0;
  const Engine* engine = nullptr;
  BackendStats backend;
  std::vector<KernelQueueStats> kernel;
  const LiveStats* loop = nullptr;
  const LatencyHistogram* send_path = nullptr;  // the raw socket's sampled send path
  size_t pool_in_use = 0;
  size_t pool_bytes = 0;
  size_t pool_chunks = 0;  // chunk allocations so far: the pool grows only to a new high
};

std::string live_stats_json(const LiveReport& r) {
  // A counting build (tests/bench) keeps the snapshots' own allocations out of
  // heap_allocations, so that two snapshots differ only by what the loop allocated; they are
  // reported beside it as json_allocations. The loop's thread is the only caller.
  static uint64_t json_allocations = 0;
  const std::optional<uint64_t> allocations_before = allocation_count();

  nlohmann::ordered_json o;
  o["profile"] = r.profile_name;
  o["seed"] = r.seed;
  o["mode"] = r.setup->mode == DiversionMode::host ? "host" : "gateway";
  o["wan"] = r.setup->wan;
  o["rules"] = r.setup->rules;
  o["queues"] = {{"outbound", uint64_t{r.queues.at(0)}}, {"inbound", uint64_t{r.queues.at(1)}}};
  // Which directions the rules queue now ("diverted" is the backend's count of packets).
  o["diverting"] = {{"outbound", r.diverted[index_of(Direction::outbound)]},
                    {"inbound", r.diverted[index_of(Direction::inbound)]}};
  o["uptime_s"] = json_seconds(r.uptime_s);
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    o[std::string(to_string(d))] = direction_stats_json(r.engine->stats(d));
  }
  {
    const BackendStats& b = r.backend;
    nlohmann::ordered_json& j = o["backend"];
    j["received"] = b.received;
    j["diverted"] = b.diverted;
    j["passed_malformed"] = b.passed_malformed;
    j["passed_truncated"] = b.passed_truncated;
    j["passed_no_buffer"] = b.passed_no_buffer;
    j["passed_busy"] = b.passed_busy;
    j["passed_through"] = b.passed_through;
    j["passed_unclassified"] = b.passed_unclassified;
    j["reinjected"] = b.reinjected;
    j["resent"] = b.resent;
    j["consumed"] = b.consumed;
    j["resend_failed"] = b.resend_failed;
    j["verdict_failed"] = b.verdict_failed;
    j["receive_overruns"] = b.receive_overruns;
    j["receive_errors"] = b.receive_errors;
    j["held"] = b.held;
    j["kernel_stamped"] = b.kernel_stamped;
    j["gso_super_packets"] = b.gso_super_packets;
    j["segments_resent"] = b.segments_resent;
    j["resend_path_samples"] = r.send_path->count();
    j["resend_path_us"] = latency_json(*r.send_path);
  }
  {
    nlohmann::ordered_json& j = o["kernel"];
    uint64_t queue_dropped = 0;
    uint64_t user_dropped = 0;
    for (const KernelQueueStats& k : r.kernel) {
      queue_dropped += k.queue_dropped;
      user_dropped += k.user_dropped;
    }
    j["queue_dropped"] = queue_dropped;
    j["user_dropped"] = user_dropped;
    for (const KernelQueueStats& k : r.kernel) {
      j["queue_" + std::to_string(k.queue)] = {{"queue_total", uint64_t{k.queue_total}},
                                               {"queue_dropped", k.queue_dropped},
                                               {"user_dropped", k.user_dropped},
                                               {"id_sequence", uint64_t{k.id_sequence}}};
    }
  }
  {
    const LiveStats& l = *r.loop;
    nlohmann::ordered_json& j = o["loop"];
    j["wakeups"] = l.wakeups;
    j["timer_wakeups"] = l.timer_wakeups;
    j["spins"] = l.spins;
    j["spin_ns"] = l.spin_ns;
    j["spin_limited"] = l.spin_limited;
    j["linger_ns"] = l.linger_ns;
    j["early_wake_ns"] = static_cast<uint64_t>(l.early_wake.count());
    j["send_lead_ns"] = static_cast<uint64_t>(l.send_lead.count());
    j["wake_cost_ns"] = static_cast<uint64_t>(l.wake_cost.count());
    j["estimated_arrivals"] = l.estimated_arrivals;
    j["unwatched_waits"] = l.unwatched_waits;
    j["armed_ahead"] = l.armed_ahead;
    j["nice"] = int64_t{l.nice};
    j["floods"] = l.floods;
    j["late_raises"] = l.late_raises;
    j["nice_changes"] = l.nice_changes;
    j["all_copies_dropped"] = l.dropped_copies;
    j["lateness_us"] = latency_json(l.lateness);
    j["read_latency_us"] = latency_json(l.read_latency);
    j["timer_lateness_us"] = latency_json(l.timer_lateness);
    j["wake_latency_us"] = latency_json(l.wake_latency);
  }
  {
    nlohmann::ordered_json& j = o["pool"];
    j["in_use"] = uint64_t{r.pool_in_use};
    j["bytes_reserved"] = uint64_t{r.pool_bytes};
    j["chunk_allocations"] = uint64_t{r.pool_chunks};
    if (allocations_before) {
      j["heap_allocations"] = *allocations_before - json_allocations;
      j["json_allocations"] = json_allocations;
    }
  }
  std::string text = json_text(o);
  if (allocations_before) {
    json_allocations += allocation_count().value_or(0) - *allocations_before;
  }
  return text;
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

std::string stats_line(const LiveReport& r) {
  std::string line;
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    const DirectionStats& s = r.engine->stats(d);
    line += fmt::format(
        "{}: {} in, {} out, {} lost, {} queue drops, {} dup, delay p50 {:.2f} ms "
        "p99 {:.2f} ms | ",
        to_string(d), s.received, s.sent, s.dropped_loss, s.dropped_queue, s.duplicated,
        millis(s.delay.percentile(0.5)), millis(s.delay.percentile(0.99)));
  }
  uint64_t queue_dropped = 0;
  uint64_t user_dropped = 0;
  for (const KernelQueueStats& k : r.kernel) {
    queue_dropped += k.queue_dropped;
    user_dropped += k.user_dropped;
  }
  const BackendStats& b = r.backend;
  line += fmt::format(
      "held {}, passed unimpaired {}, resend failures {}, overruns {}, kernel drops {}+{}, "
      "late p99 {:.3f} ms",
      b.held,
      b.passed_malformed + b.passed_truncated + b.passed_no_buffer + b.passed_busy +
          b.passed_unclassified,
      b.resend_failed, b.receive_overruns, queue_dropped, user_dropped,
      millis(r.loop->lateness.percentile(0.99)));
  return line;
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
         "Rules: badlink installs, for IPv4 and IPv6, chains BADLINK-<pid>-OUT and\n"
         "BADLINK-<pid>-IN in the mangle table holding the profile's [match] (comment\n"
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
         "--no-rules: badlink installs nothing and reads NFQUEUE N and N+1; either may carry\n"
         "both directions. A packet's direction is where your rule caught it, as a divert(4)\n"
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
         "Signals: SIGHUP reloads the profile. A new profile that fails validation is rejected\n"
         "(the reasons are logged) and the old one keeps running. A valid one is applied whole;\n"
         "a changed [match] is NOT applied to the rules (a warning says so): restart for that.\n"
         "SIGUSR1 writes --stats-json now. SIGINT/SIGTERM stop: the rules go first, then every\n"
         "packet still held is sent at once.\n"
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
  Profile profile = path.empty() ? default_profile() : load_profile(path);
  require_one_link(profile, "run");  // at start: exit 2; on SIGHUP: the reload is rejected
  return profile;
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

// Which directions the rules divert: one that changes nothing is not queued at all (its jump
// is left out), so its packets pass at the kernel's own cost -- unless --dump shows them.
std::array<bool, kDirections> diverted_for(const Profile& p, const RunSetup& setup) {
  std::array<bool, kDirections> on{};
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    on[index_of(d)] = !p.single_link().direction(d).is_passthrough() || setup.dump;
  }
  return on;
}

bool times_departures(const Profile& p) {
  return !p.single_link().outbound.is_passthrough() || !p.single_link().inbound.is_passthrough();
}

// Arrival stamps for what this host sends (output_stamps.hh), for the families whose rules
// are in: a stamped packet must be one they queue. Without them (a kernel before 5.12, or
// nf_tables missing) outbound packets are timed when read, as with --no-rules.
std::optional<OutputStamps> install_output_stamps(const Match& match, const FirewallLayout& layout,
                                                  bool v4, bool v6) {
  StampLayout stamp;
  stamp.table = "badlink-" + std::to_string(layout.owner_pid);
  stamp.interface = match.interface;
  stamp.skip_mark = layout.skip_mark;
  if (v4) {
    stamp.ipv4 = match_terms(match, IpFamily::ipv4);
  }
  if (v6) {
    stamp.ipv6 = match_terms(match, IpFamily::ipv6);
  }
  try {
    std::optional<OutputStamps> out(std::in_place, stamp);
    spdlog::info(
        "outbound arrival stamps: nf_tables table inet {} ({} rules) writes the kernel's time "
        "into the mark of each packet the rules queue at OUTPUT",
        out->table(), out->rules());
    return out;
  } catch (const SystemError& e) {
    spdlog::warn("outbound packets are timed when read (no kernel arrival stamp): {}", e.what());
    return std::nullopt;
  }
}

int run_main(const std::vector<std::string>& args) {
  // First of all: from here on SIGINT/SIGTERM wait for the loop, which exits cleanly, and a
  // closed standard output (--dump | head) is an error to count, not a silent death.
  SignalFd signals({SIGINT, SIGTERM, SIGHUP, SIGUSR1});
  ::signal(SIGPIPE, SIG_IGN);

  const RunSetup setup = parse_setup(args);
  Profile profile = load_run_profile(setup.profile_path);  // invalid: never starts (exit 2)
  if (setup.mode == DiversionMode::gateway && !profile.single_link().match.interface.empty() &&
      profile.single_link().match.interface != setup.wan) {
    throw UsageError("the profile's [match] interface is '" +
                     profile.single_link().match.interface + "' but --wan is '" + setup.wan +
                     "'; in gateway mode --wan decides");
  }
  require_capabilities();
  if (setup.mode == DiversionMode::gateway) {
    require_interface(setup.wan, "--wan");
  }
  if (!profile.single_link().match.interface.empty()) {
    require_interface(profile.single_link().match.interface,
                      profile.source + ": [match] interface");
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

  PacketPool pool;
  pool.reserve(1500, 4096);  // MTU-sized packets
  Engine engine(configs_of(profile), seed, pool);

  uint32_t max_length = queue_length_for(profile, setup.max_pps);
  std::unique_ptr<NfqueueBackend> backend = open_backend(setup, max_length);
  const auto configure_directions = [&backend, &setup](const Profile& p) {
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      backend->set_passthrough(d, p.single_link().direction(d).is_passthrough());
      // --dump shows every packet: then even these go through the loop.
      backend->set_bypass(d, p.single_link().direction(d).is_passthrough() && !setup.dump);
      backend->set_headers_only(d, p.single_link().direction(d).delays_only());
      // Only the headers cross to badlink where no packet is sent again from its bytes: a
      // direction passed as read, or one that only delays packets the kernel holds (not what
      // this host sends: that is copied and resent; not with rules of the user's own).
      const bool held =
          setup.rules && (setup.mode == DiversionMode::gateway || d == Direction::inbound);
      const bool cut = p.single_link().direction(d).is_passthrough() ||
                       (held && p.single_link().direction(d).delays_only());
      try {
        backend->set_header_copies(d, cut);
      } catch (const SystemError& e) {
        spdlog::warn("{}: packets keep coming whole: {}", to_string(d), e.what());
      }
    }
  };
  configure_directions(profile);
  const std::vector<uint16_t> queues = backend->queue_numbers();
  if (setup.rules) {
    spdlog::info("NFQUEUE {} (outbound) and {} (inbound), up to {} packets held each", queues[0],
                 queues[1], max_length);
  } else {
    spdlog::info("NFQUEUE {} and {}, up to {} packets held each", queues[0], queues[1], max_length);
  }

  std::optional<Firewall> firewall_v4;
  std::optional<Firewall> firewall_v6;
  std::optional<OutputStamps> stamps;  // after the rules, gone before them
  FirewallLayout layout;
  if (setup.rules) {
    spdlog::info("firewall: {}", detect_firewall_mechanism().describe());
    layout.mode = setup.mode;
    layout.wan = setup.wan;
    layout.outbound_queue = queues[0];
    layout.inbound_queue = queues[1];
    layout.skip_mark = setup.mark;
    layout.owner_pid = static_cast<int>(::getpid());
    const FamilyRules v4 = plan_rules(profile.single_link().match, layout, IpFamily::ipv4);
    const FamilyRules v6 = plan_rules(profile.single_link().match, layout, IpFamily::ipv6);
    const Match& match = profile.single_link().match;
    const bool v6_asked = std::any_of(match.hosts.begin(), match.hosts.end(),
                                      [](const Cidr& c) { return c.family == 6; });
    for (const FamilyRules* f : {&v4, &v6}) {
      for (const RuleSpec& r : f->chain_rules) {
        spdlog::debug("rule: {}", describe(r, f->family));
      }
      for (const RuleSpec& r : f->jumps) {
        spdlog::debug("rule: {}", describe(r, f->family, "-I"));
      }
    }
    const std::array<bool, kDirections> diverted = diverted_for(profile, setup);
    if (!v4.empty()) {
      firewall_v4.emplace(std::vector<FamilyRules>{v4}, diverted);
    }
    if (!v6.empty()) {
      try {
        firewall_v6.emplace(std::vector<FamilyRules>{v6}, diverted);
      } catch (const FirewallError& e) {
        if (v6_asked) {
          throw;
        }
        spdlog::warn("IPv6 packets are not diverted: {}", e.what());
      }
    }
    const size_t count = (firewall_v4 ? firewall_v4->rule_count() : 0) +
                         (firewall_v6 ? firewall_v6->rule_count() : 0);
    spdlog::info("{} mode: {} rules in chains {} and {} ({}{}{})",
                 setup.mode == DiversionMode::host ? "host" : "gateway", count,
                 chain_name(layout.owner_pid, Direction::outbound),
                 chain_name(layout.owner_pid, Direction::inbound), firewall_v4 ? "IPv4" : "",
                 firewall_v4 && firewall_v6 ? " and " : "", firewall_v6 ? "IPv6" : "");
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      if (!diverted[index_of(d)]) {
        spdlog::info("{} changes nothing: not diverted (a reload that impairs it diverts it)",
                     to_string(d));
      }
    }
  } else {
    spdlog::info(
        "--no-rules: reading your rules' NFQUEUE {} and {}, each packet's direction from where "
        "they caught it; they must skip mark {:#x}",
        queues[0], queues[1], setup.mark);
  }

  // A reload's new jumps go in before anything else changes (all or nothing: a failure takes
  // out those this call put in and rejects the reload); jumps no longer wanted go last.
  const std::array<Firewall*, 2> firewalls{firewall_v4 ? &*firewall_v4 : nullptr,
                                           firewall_v6 ? &*firewall_v6 : nullptr};
  const auto put_jumps_in = [&firewalls](const std::array<bool, kDirections>& want) {
    std::vector<std::pair<Firewall*, Direction>> added;
    try {
      for (Firewall* f : firewalls) {
        for (const Direction d : {Direction::outbound, Direction::inbound}) {
          if (f != nullptr && want[index_of(d)] && !f->diverted(d)) {
            f->divert(d, true);
            added.emplace_back(f, d);
          }
        }
      }
    } catch (...) {
      for (const auto& [f, d] : added) {
        f->divert(d, false);
      }
      throw;
    }
  };
  const auto take_jumps_out = [&firewalls](const std::array<bool, kDirections>& want) {
    for (Firewall* f : firewalls) {
      for (const Direction d : {Direction::outbound, Direction::inbound}) {
        if (f != nullptr && !want[index_of(d)] && f->diverted(d)) {
          f->divert(d, false);
        }
      }
    }
  };

  // Host mode's outbound stamps, once its outbound changes something (an empty direction's
  // packets are passed as read and need none; a reload may ask for them later). They select
  // what the installed rules select: the [match] they were made from.
  const Match installed_match = profile.single_link().match;
  bool stamps_tried = false;
  const auto want_stamps = [&](const Profile& p) {
    if (!setup.rules || setup.mode != DiversionMode::host || stamps_tried ||
        p.single_link().outbound.is_passthrough()) {
      return;
    }
    stamps_tried = true;
    stamps = install_output_stamps(installed_match, layout, firewall_v4.has_value(),
                                   firewall_v6.has_value());
    backend->set_output_stamps(stamps.has_value());
  };
  // Gone before the outbound jumps go: a packet stamped must be one the rules queue.
  const auto drop_stamps = [&]() {
    backend->set_output_stamps(false);
    stamps.reset();
    stamps_tried = false;
  };
  want_stamps(profile);

  if (setup.mode == DiversionMode::gateway) {
    std::ifstream forward("/proc/sys/net/ipv4/ip_forward");
    char on = '1';
    if (forward >> on && on == '0') {
      spdlog::warn("IPv4 forwarding is off (net.ipv4.ip_forward = 0): nothing will be forwarded");
    }
  }

  // Before the capabilities go (CAP_SYS_NICE), and before the calibrator's thread starts (it
  // inherits the setting).
  const std::optional<FairScheduling> scheduling = set_loop_scheduling(setup);
  const std::optional<PriorityPolicy> priority = loop_priority_policy(setup, scheduling);
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
  LiveDriver driver(engine, *backend, pool, clock, signals, live);
  driver.set_timing_needed(times_departures(profile));
  const auto set_arrival_slack = [&driver, &setup, &stamps](const Profile& p) {
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      const std::optional<Duration> slack = arrival_slack_for(p, d, setup, stamps.has_value());
      driver.set_arrival_slack(d, slack,
                               setup.mode == DiversionMode::host && d == Direction::inbound);
      if (slack) {
        spdlog::info(
            "{}: every packet is delayed {:.2f} ms or more: its queue is read at departures",
            to_string(d), millis(*slack));
      }
    }
  };
  set_arrival_slack(profile);
  const TimePoint started = clock.now();

  auto report = [&]() {
    LiveReport r;
    r.profile_name = profile.name;
    r.seed = seed;
    r.setup = &setup;
    r.queues = queues;
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      r.diverted[index_of(d)] = !setup.rules || (firewall_v4 && firewall_v4->diverted(d)) ||
                                (firewall_v6 && firewall_v6->diverted(d));
    }
    r.uptime_s = static_cast<double>((clock.now() - started).count()) / 1e9;
    r.engine = &engine;
    r.backend = backend->stats();
    r.kernel = read_kernel_queue_stats(queues);
    r.loop = &driver.stats();
    r.send_path = &backend->injector().send_path_samples();
    r.pool_in_use = pool.in_use();
    r.pool_bytes = pool.bytes_reserved();
    r.pool_chunks = pool.chunk_allocations();
    return r;
  };
  auto write_stats = [&]() {
    if (!setup.stats_json) {
      spdlog::info("stats: {}", stats_line(report()));
      return;
    }
    try {
      write_json_file(*setup.stats_json, live_stats_json(report()));
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
  spdlog::info("running profile '{}' ({}); SIGHUP reloads, SIGINT/SIGTERM stop", profile.name,
               profile.source);
  for (;;) {
    const LiveEvent event = driver.run();
    if (event.kind == LiveEvent::Kind::stop) {
      spdlog::info("{}: stopping", ::strsignal(event.signal));
      break;
    }
    switch (event.kind) {
      case LiveEvent::Kind::stats_tick:
        spdlog::info("stats: {}", stats_line(report()));
        break;
      case LiveEvent::Kind::write_stats:
        write_stats();
        break;
      case LiveEvent::Kind::reload:
        try {
          Profile next = load_run_profile(setup.profile_path);
          if (setup.mode == DiversionMode::gateway && !next.single_link().match.interface.empty() &&
              next.single_link().match.interface != setup.wan) {
            spdlog::error(
                "reload rejected: [match] interface '{}' is not --wan '{}'; still "
                "running the previous profile",
                next.single_link().match.interface, setup.wan);
            break;
          }
          if (!(next.single_link().match == profile.single_link().match)) {
            spdlog::warn(
                "reload: [match] changed, but the rules are kept as installed; restart "
                "badlink to divert by the new [match]");
          }
          // Prepared first: what can fail before anything running changes.
          const std::array<bool, kDirections> diverted = diverted_for(next, setup);
          put_jumps_in(diverted);
          want_stamps(next);
          engine.reconfigure(configs_of(next));
          configure_directions(next);
          set_arrival_slack(next);
          driver.set_timing_needed(times_departures(next));
          if (!diverted[index_of(Direction::outbound)] && stamps) {
            drop_stamps();
          }
          take_jumps_out(diverted);
          const uint32_t wanted = queue_length_for(next, setup.max_pps);
          if (wanted != max_length) {
            try {
              backend->set_max_length(wanted);
              max_length = wanted;
            } catch (const SystemError& e) {
              spdlog::warn("reload: queue length stays {}: {}", max_length, e.what());
            }
          }
          profile = std::move(next);
          spdlog::info("reloaded profile '{}' ({})", profile.name, profile.source);
        } catch (const ProfileError& e) {
          for (const Diagnostic& d : e.diagnostics()) {
            spdlog::error("{}", d.to_string());
          }
          spdlog::error("reload rejected; still running profile '{}'", profile.name);
        } catch (const FirewallError& e) {
          spdlog::error("reload rejected: {}; still running profile '{}'", e.what(), profile.name);
        }
        break;
      case LiveEvent::Kind::stop:
        break;
    }
  }

  // Orderly end: no new packets (rules gone), then everything held goes on at once. The
  // stamps go first: a packet stamped must be one the rules queue (and what is queued after
  // them carries its sender's mark).
  backend->set_output_stamps(false);
  stamps.reset();
  firewall_v6.reset();
  firewall_v4.reset();
  driver.finish();
  spdlog::info("stats: {}", stats_line(report()));
  if (setup.stats_json) {
    write_json_file(*setup.stats_json, live_stats_json(report()));
  }
  return kExitOk;
}

}  // namespace badlink::cli
