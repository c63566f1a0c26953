// `badlink verify`: does badlink do what a profile says? Builds a testbed of network namespaces
// (client -- gateway -- server), runs `badlink run --wan` on the gateway, sends probe traffic
// through it in each impaired direction, measures from outside badlink, and judges every
// figure against a tolerance derived from the statistics of the sample sent.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/command.hh"
#include "impairments/loss.hh"
#include "io/json_text.hh"
#include "probe/network_namespace.hh"
#include "probe/probe_packet.hh"
#include "probe/probe_stats.hh"
#include "probe/udp_probe.hh"
#include "probe/verify_model.hh"
#include "probe/verify_result.hh"
#include "profile/default_profile.hh"
#include "profile/profile.hh"
#include "sys/file_descriptor.hh"
#include "sys/signal_fd.hh"
#include "sys/system_error.hh"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace badlink::cli {

namespace {

using namespace badlink::probe;

constexpr const char* kPrefix = "blv-";  // testbed names: blv-<pid>-<role>
constexpr const char* kClientAddress = "198.51.100.2";
constexpr const char* kClientGateway = "198.51.100.1";
constexpr const char* kServerAddress = "203.0.113.2";
constexpr const char* kServerGateway = "203.0.113.1";
constexpr uint16_t kBasePort = 47000;
constexpr auto kReadyTimeout = std::chrono::seconds(15);
constexpr auto kStopTimeout = std::chrono::seconds(10);

// ---- options ------------------------------------------------------------------------------

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

// ---- signals --------------------------------------------------------------------------------

// SIGINT/SIGTERM/SIGHUP end a verify early, with the testbed removed on the way out.
class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal)
      : std::runtime_error(std::string("interrupted by ") + ::strsignal(signal)) {}
};

class Interrupt {
 public:
  Interrupt() : signals_({SIGINT, SIGTERM, SIGHUP}) {}

  // Waits up to `timeout` for a signal; throws Interrupted when one came.
  void wait(std::chrono::milliseconds timeout) {
    pollfd p{signals_.fd(), POLLIN, 0};
    (void)::poll(&p, 1, static_cast<int>(timeout.count()));
    check();
  }
  void check() {
    if (const std::optional<int> s = signals_.read()) {
      throw Interrupted(*s);
    }
  }
  int fd() const { return signals_.fd(); }

 private:
  SignalFd signals_;
};

// ---- the testbed ----------------------------------------------------------------------------

// client c (198.51.100.2) -- gateway g -- server s (203.0.113.2); g's interface towards s is
// the WAN. Removed (namespaces, and with them the veth pairs and any rule) when destroyed.
class Testbed {
 public:
  explicit Testbed(int pid) : id_(kPrefix + std::to_string(pid)) {
    for (const std::string& stale : stale_namespaces(kPrefix)) {
      spdlog::info("removing {} left by a verify that was killed", stale);
      remove_namespace(stale);
    }
    for (const char* role : {"c", "g", "s"}) {
      namespaces_.push_back(std::make_unique<NetworkNamespace>(id_ + "-" + role));
    }
    link(client(), id_ + "-c0", gateway(), id_ + "-gc");
    link(gateway(), wan(), server(), id_ + "-s0");
    address(client(), id_ + "-c0", std::string(kClientAddress) + "/24");
    address(gateway(), id_ + "-gc", std::string(kClientGateway) + "/24");
    address(gateway(), wan(), std::string(kServerGateway) + "/24");
    address(server(), id_ + "-s0", std::string(kServerAddress) + "/24");
    ip({"-n", client(), "route", "add", "default", "via", kClientGateway});
    ip({"-n", server(), "route", "add", "default", "via", kServerGateway});
    set_sysctl(gateway(), "net.ipv4.ip_forward", "1");
  }
  ~Testbed() {
    // The namespaces go in reverse order; each takes its interfaces with it.
    while (!namespaces_.empty()) {
      namespaces_.pop_back();
    }
  }
  Testbed(const Testbed&) = delete;
  Testbed& operator=(const Testbed&) = delete;

  std::string client() const { return id_ + "-c"; }
  std::string gateway() const { return id_ + "-g"; }
  std::string server() const { return id_ + "-s"; }
  std::string wan() const { return id_ + "-gs"; }

 private:
  static void link(const std::string& a, const std::string& a_if, const std::string& b,
                   const std::string& b_if) {
    ip({"link", "add", a_if, "netns", a, "type", "veth", "peer", "name", b_if, "netns", b});
    ip({"-n", a, "link", "set", a_if, "up"});
    ip({"-n", b, "link", "set", b_if, "up"});
  }
  static void address(const std::string& ns, const std::string& dev, const std::string& cidr) {
    ip({"-n", ns, "addr", "add", cidr, "dev", dev});
  }

  std::string id_;
  std::vector<std::unique_ptr<NetworkNamespace>> namespaces_;
};

// ---- badlink run as a child -----------------------------------------------------------------

std::string tail_of(const fs::path& file, size_t lines) {
  std::ifstream in(file);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) {
    all.push_back(line);
  }
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "\n  " + all[i];
  }
  return out;
}

// `badlink run ARGS` inside a network namespace, its log in a file. Stopped with SIGTERM (its
// rules go with it) when destroyed; it also gets SIGTERM should verify die first.
class BadlinkChild {
 public:
  BadlinkChild(const std::string& netns, const std::vector<std::string>& args, fs::path log)
      : log_(std::move(log)) {
    const std::string exe = fs::read_symlink("/proc/self/exe").string();
    std::vector<std::string> argv_text{exe, "run"};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_text) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    const std::string ns_path = "/run/netns/" + netns;
    const FileDescriptor ns(checked_call(
        "open(" + ns_path + ")", [&] { return ::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC); }));
    const FileDescriptor log_fd(checked_call("open(" + log_.string() + ")", [&] {
      return ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }));
    const FileDescriptor null_fd(
        checked_call("open(/dev/null)", [] { return ::open("/dev/null", O_RDWR | O_CLOEXEC); }));
    const pid_t parent = ::getpid();
    pid_ = SystemCall("fork", ::fork());
    if (pid_ == 0) {
      // The child of a threaded process: async-signal-safe calls only, until exec.
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent || ::setns(ns.fd(), CLONE_NEWNET) != 0) {
        ::_exit(127);
      }
      ::dup2(null_fd.fd(), 0);
      ::dup2(null_fd.fd(), 1);
      ::dup2(log_fd.fd(), 2);
      // Default dispositions too: an ignored SIGINT (verify started in the background of a
      // script) would otherwise be inherited across exec.
      for (const int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
        ::signal(s, SIG_DFL);
      }
      sigset_t none;
      ::sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~BadlinkChild() {
    if (pid_ > 0) {
      const std::optional<int> status = stop();
      if (!status) {
        spdlog::warn("badlink run (pid {}) did not stop; killed", pid_);
      }
    }
  }
  BadlinkChild(const BadlinkChild&) = delete;
  BadlinkChild& operator=(const BadlinkChild&) = delete;

  // Until the log says it runs; throws with its log when it exits first.
  void wait_ready(Interrupt& interrupt) {
    const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(log_);
      for (std::string line; std::getline(in, line);) {
        if (line.find("running profile") != std::string::npos) {
          return;
        }
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("badlink run exited with status " +
                                 std::to_string(exit_code(status)) +
                                 " during start-up:" + tail_of(log_, 20));
      }
      interrupt.wait(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("badlink run did not start within 15 s:" + tail_of(log_, 20));
  }

  // SIGTERM and wait: its exit status; nullopt when it had to be killed.
  std::optional<int> stop() noexcept {
    if (pid_ <= 0) {
      return exit_status_;
    }
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + kStopTimeout;
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) {
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        (void)::waitpid(pid_, &status, 0);
        pid_ = -1;
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    exit_status_ = exit_code(status);
    return exit_status_;
  }

  const fs::path& log() const { return log_; }

 private:
  static int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  fs::path log_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

// A private directory under /tmp, removed with its contents.
class WorkDir {
 public:
  WorkDir() {
    std::string pattern = (fs::temp_directory_path() / "badlink-verify-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw SystemError("mkdtemp(" + pattern + ")", errno);
    }
    path_ = pattern;
  }
  ~WorkDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// ---- probe streams --------------------------------------------------------------------------

// One stream of probes from one namespace to another, sender and receiver on their own threads.
struct Stream {
  std::string from;  // namespaces
  std::string to;
  Endpoint destination;
  SendPlan send;
  ReceivePlan receive;
  Duration drain{0};  // how long the receiver waits after the last packet is sent
  uint32_t ip_overhead = kUdpIpv4Overhead;

  ProbeControl control;
  SendReport sent;
  ReceiveReport received;
  std::exception_ptr send_failure;  // one each: the two threads may fail at once
  std::exception_ptr receive_failure;

  ProbeSummary summary() const { return summarize(received, send.count, ip_overhead); }
};

// Runs the streams side by side; every thread is joined before this returns or throws.
void run_streams(const std::vector<Stream*>& streams, Interrupt& interrupt) {
  std::vector<FileDescriptor> receivers;
  std::vector<FileDescriptor> senders;
  for (Stream* s : streams) {
    receivers.push_back(open_receiver(s->to, s->destination));
    senders.push_back(open_sender(s->from, s->destination));
  }
  std::atomic<size_t> finished{0};
  std::vector<std::thread> threads;
  const auto guarded = [&finished](Stream* s, std::exception_ptr& failure, auto&& work) {
    try {
      work();
    } catch (...) {
      failure = std::current_exception();
      s->control.abort = true;
    }
    ++finished;
  };
  for (size_t i = 0; i < streams.size(); ++i) {
    Stream* s = streams[i];
    const int rx = receivers[i].fd();
    const int tx = senders[i].fd();
    const double send_s = static_cast<double>(s->send.count) / s->send.rate_pps;
    s->receive.max_time =
        Duration{static_cast<int64_t>(send_s * 1e9)} + s->drain + std::chrono::seconds(30);
    threads.emplace_back([s, rx, &guarded] {
      guarded(s, s->receive_failure,
              [&] { s->received = receive_probes(rx, s->receive, s->control); });
    });
    threads.emplace_back([s, tx, &guarded] {
      guarded(s, s->send_failure, [&] {
        s->sent = send_probes(tx, s->send, s->control);
        s->control.receive_until_ns = s->sent.last_send_ns + s->drain.count();
      });
    });
  }
  std::optional<Interrupted> interrupted;
  while (finished < threads.size()) {
    try {
      interrupt.wait(std::chrono::milliseconds(50));
    } catch (const Interrupted& e) {
      interrupted = e;
      for (Stream* s : streams) {
        s->control.abort = true;
      }
      break;
    }
  }
  for (std::thread& t : threads) {
    t.join();
  }
  if (interrupted) {
    throw *interrupted;
  }
  for (Stream* s : streams) {
    for (const std::exception_ptr& failure : {s->send_failure, s->receive_failure}) {
      if (failure) {
        std::rethrow_exception(failure);
      }
    }
  }
}

// ---- the verification -----------------------------------------------------------------------

struct DirectionRun {
  Direction direction;
  std::string label;  // "outbound (client -> server, leaving through the WAN)"
  const DirectionConfig* config = nullptr;
  DirectionPlan plan;
  std::string from;  // namespaces
  std::string to;
  std::string to_address;
  Stream base, sparse, dense, rate;
  std::vector<Figure> figures;
  std::string sent_line;
};

void configure(Stream& s, const DirectionRun& d, uint16_t stream_id, uint64_t count, double pps,
               uint32_t payload, Duration drain) {
  s.from = d.from;
  s.to = d.to;
  s.destination = make_endpoint(d.to_address, static_cast<uint16_t>(kBasePort + stream_id));
  s.send.count = count;
  s.send.rate_pps = pps;
  s.send.payload_bytes = payload;
  s.send.stream = stream_id;
  s.receive.count = count;
  s.receive.stream = stream_id;
  s.receive.stamp = Stamp::kernel;  // the receiver is not on the host badlink runs on
  s.drain = drain;
}

std::string format_rate(double bps) {
  return bps < 1e6 ? fmt::format("{:.1f} kbit/s", bps / 1e3)
                   : fmt::format("{:.2f} Mbit/s", bps / 1e6);
}

std::string format_value(double v, const std::string& unit) {
  if (unit == "%") {
    return fmt::format("{:.3f} %", v);
  }
  if (unit == "ms") {
    return fmt::format("{:.2f} ms", v);
  }
  return fmt::format("{:.3f} {}", v, unit);
}

std::string format_tolerance(const Figure& f) {
  if (!f.measurable) {
    return "-";
  }
  const double below = f.configured - f.low;
  const double above = f.high - f.configured;
  const int digits = f.unit == "%" ? 3 : f.unit == "ms" ? 2 : 3;
  if (below < 0.5 * std::pow(10.0, -digits)) {
    return fmt::format("0/+{:.{}f} {}", above, digits, f.unit);
  }
  if (std::abs(below - above) <= 0.01 * std::max(std::abs(below), std::abs(above))) {
    return fmt::format("±{:.{}f} {}", above, digits, f.unit);
  }
  return fmt::format("-{:.{}f}/+{:.{}f} {}", below, digits, above, digits, f.unit);
}

Profile without_match(Profile p) {
  p.links.front().match = Match{};
  return p;
}

struct Outcome {
  bool ok = true;
  std::string text;  // the report
  std::string json;
};

Outcome verify(const VerifySetup& setup, const Profile& profile, const Profile& run_profile,
               Interrupt& interrupt) {
  const uint64_t seed = setup.seed ? *setup.seed : [] {
    std::random_device device;
    return ((uint64_t{device()} << 32) | device()) & 0xffffffffffffULL;
  }();

  PlanBudget budget;
  budget.sparse = Duration{static_cast<int64_t>(setup.duration_s * 0.5e9)};
  budget.dense = Duration{static_cast<int64_t>(setup.duration_s / 3 * 1e9)};
  budget.rate = Duration{static_cast<int64_t>(std::max(2.0, setup.duration_s * 0.1) * 1e9)};

  const WorkDir work;
  const Testbed testbed(static_cast<int>(::getpid()));

  std::vector<std::unique_ptr<DirectionRun>> runs;
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    auto run = std::make_unique<DirectionRun>();
    run->direction = d;
    run->config = &profile.single_link().direction(d);
    if (d == Direction::outbound) {
      run->label = "outbound: client -> server, leaving through the WAN interface";
      run->from = testbed.client();
      run->to = testbed.server();
      run->to_address = kServerAddress;
    } else {
      run->label = "inbound: server -> client, arriving from the WAN interface";
      run->from = testbed.server();
      run->to = testbed.client();
      run->to_address = kClientAddress;
    }
    run->plan = plan_direction(*run->config, budget);
    runs.push_back(std::move(run));
  }
  const uint16_t dir_offset[2] = {0, 1};

  std::ostringstream text;
  text << fmt::format("badlink verify: profile '{}' ({}), seed {}\n", profile.name, profile.source,
                      seed);
  text << fmt::format("testbed: {} ({}) -- {} (badlink run --wan {}) -- {} ({})\n",
                      testbed.client(), kClientAddress, testbed.gateway(), testbed.wan(),
                      testbed.server(), kServerAddress);
  std::cout << text.str() << std::flush;

  // Sanity check of the bare path, and its own delay (the base every delay figure allows).
  {
    std::vector<Stream*> streams;
    for (auto& r : runs) {
      configure(r->base, *r, static_cast<uint16_t>(0 + dir_offset[index_of(r->direction)]), 300,
                300, 32, std::chrono::milliseconds(500));
      streams.push_back(&r->base);
    }
    run_streams(streams, interrupt);
  }
  for (auto& r : runs) {
    const ProbeSummary b = r->base.summary();
    if (b.unique < b.expected * 99 / 100 || b.delay.p50 > 5.0) {
      throw std::runtime_error(fmt::format(
          "the testbed's own path is not clean before badlink starts ({}: {} of {} arrived, "
          "delay p50 {:.2f} ms); is the host overloaded?",
          to_string(r->direction), b.unique, b.expected, b.delay.p50));
    }
  }

  // badlink run on the gateway, with the profile's impairments (its [match] is not what is
  // verified: the testbed's probes are all the traffic there is).
  const fs::path run_profile_file = work / "profile.toml";
  {
    std::ofstream out(run_profile_file);
    out << render_profile(without_match(run_profile));
    if (!out) {
      throw std::runtime_error("cannot write " + run_profile_file.string());
    }
  }
  BadlinkChild badlink(testbed.gateway(),
                       {"--profile", run_profile_file.string(), "--wan", testbed.wan(), "--seed",
                        std::to_string(seed), "--stats-interval", "0", "--stats-json",
                        (work / "stats.json").string()},
                       work / "badlink.log");
  badlink.wait_ready(interrupt);

  std::vector<DirectionRun*> impaired;
  for (auto& r : runs) {
    if (!r->config->is_passthrough()) {
      impaired.push_back(r.get());
    }
  }
  if (impaired.empty()) {
    std::cout << "the profile impairs neither direction: nothing to measure\n";
  }

  // Delay: few packets, far apart. Both directions at once: they are independent pipelines.
  {
    std::vector<Stream*> streams;
    for (DirectionRun* r : impaired) {
      const DirectionPlan& p = r->plan;
      configure(r->sparse, *r, static_cast<uint16_t>(10 + dir_offset[index_of(r->direction)]),
                p.sparse_count, 1e9 / static_cast<double>(p.sparse_spacing.count()),
                p.sparse_payload, p.drain);
      streams.push_back(&r->sparse);
    }
    std::cout << "measuring delay ..." << std::endl;
    run_streams(streams, interrupt);
  }
  // Loss, duplicates, reordering: many packets, well below the rate.
  {
    std::vector<Stream*> streams;
    for (DirectionRun* r : impaired) {
      const DirectionPlan& p = r->plan;
      configure(r->dense, *r, static_cast<uint16_t>(20 + dir_offset[index_of(r->direction)]),
                p.dense_count, p.dense_pps, p.dense_payload, p.drain);
      streams.push_back(&r->dense);
    }
    std::cout << "measuring loss, duplicates and reordering ..." << std::endl;
    run_streams(streams, interrupt);
  }
  // Throughput: more than the rate, one direction at a time (they share the host's CPUs).
  for (DirectionRun* r : impaired) {
    const DirectionPlan& p = r->plan;
    if (!p.rate) {
      continue;
    }
    configure(r->rate, *r, static_cast<uint16_t>(30 + dir_offset[index_of(r->direction)]),
              p.rate_count, p.rate_pps, p.rate_payload, p.drain);
    std::cout << "measuring " << to_string(r->direction) << " throughput ..." << std::endl;
    run_streams({&r->rate}, interrupt);
  }

  const std::optional<int> run_status = badlink.stop();
  bool ok = true;
  std::ostringstream report;
  if (!run_status || *run_status != 0) {
    ok = false;
    report << fmt::format("badlink run did not exit cleanly (status {}):{}\n",
                          run_status ? std::to_string(*run_status) : "killed",
                          tail_of(badlink.log(), 20));
  }

  // ---- the verdict ----
  const HostAllowance& allowance = setup.allowance;
  VerifyResult result;
  result.profile = profile.name;
  result.source = profile.source;
  result.seed = seed;
  size_t judged = 0;
  size_t failed = 0;
  size_t unmeasurable = 0;
  for (DirectionRun* r : impaired) {
    const DirectionConfig& c = *r->config;
    const DirectionPlan& p = r->plan;
    const ProbeSummary base = r->base.summary();
    const ProbeSummary sparse = r->sparse.summary();
    const ProbeSummary dense = r->dense.summary();
    BasePath base_path{base.delay.p50, base.delay.p99, base.delay.mean, base.delay.stddev};

    const DelayLaw sparse_law(c, p.sparse_spacing);
    const double serial = serialization_ms(c, p.sparse_payload + kUdpIpv4Overhead);
    // Runs of packets a stall held are judged by how long they held the path, not as delays.
    const double stall_limit = stall_limit_ms(sparse_law, serial, base_path, allowance);
    const Stalls stalls =
        find_stalls(sparse.delay_by_seq_ms, static_cast<double>(p.sparse_spacing.count()) / 1e6,
                    stall_limit, sparse_law.quantile(0.5) / 1e6 + serial);
    r->figures = delay_figures(c, sparse_law, serial, describe_delays(stalls.kept_ms), base_path,
                               allowance);
    r->figures.push_back(stall_figure(stalls, stall_limit, allowance));

    CountSample counts;
    counts.sent = r->sparse.sent.sent + r->dense.sent.sent;
    counts.unique = sparse.unique + dense.unique;
    counts.duplicates = sparse.duplicates + dense.duplicates;
    counts.damaged = sparse.damaged + dense.damaged;
    counts.payload = p.dense_payload;
    for (Figure& f : count_figures(c, counts)) {
      r->figures.push_back(std::move(f));
    }
    if (p.reorder_on_sparse) {
      r->figures.push_back(reorder_figure(c, sparse_law, sparse.unique, sparse.early));
    } else {
      const DelayLaw dense_law(c, Duration{static_cast<int64_t>(1e9 / p.dense_pps)},
                               size_t{1} << 19);
      r->figures.push_back(reorder_figure(c, dense_law, dense.unique, dense.early));
    }
    std::string rate_line;
    if (p.rate) {
      const ProbeSummary rate = r->rate.summary();
      const double spread_ms = static_cast<double>(delay_spread(c).count()) / 1e6;
      Figure f =
          throughput_figure(c, rate.throughput_bps, rate.throughput_window_s, spread_ms, allowance);
      const double ip_bits = (p.rate_payload + kUdpIpv4Overhead) * 8.0;
      const double offered = r->rate.sent.achieved_pps * ip_bits;
      const double lost = std::min(0.5, LossModel::stationary_loss(c.loss) + c.corrupt);
      if (offered * (1 - lost) < 1.05 * static_cast<double>(c.rate.bits_per_second)) {
        f.measurable = false;
        f.note =
            fmt::format("the sender reached only {}: this host cannot offer more than the rate",
                        format_rate(offered));
      }
      r->figures.push_back(std::move(f));
      rate_line = fmt::format(", {} of {} B in {:.1f} s at {} (throughput)", r->rate.sent.sent,
                              p.rate_payload, r->rate.sent.elapsed_s, format_rate(offered));
    }
    r->sent_line =
        fmt::format("sent {} packets {:.1f} ms apart (delay), {} at {:.0f}/s (loss, reordering){}",
                    r->sparse.sent.sent, static_cast<double>(p.sparse_spacing.count()) / 1e6,
                    r->dense.sent.sent, r->dense.sent.achieved_pps, rate_line);

    report << '\n' << r->label << '\n' << "  " << r->sent_line << '\n';
    report << fmt::format("  base path without badlink: delay p50 {:.3f} ms, p99 {:.3f} ms\n",
                          base.delay.p50, base.delay.p99);
    report << fmt::format("  {:<18} {:>14} {:>14} {:>22}  {}\n", "figure", "configured", "measured",
                          "tolerance", "ok");
    for (const Figure& f : r->figures) {
      ++judged;
      const char* verdict = !f.measurable ? "n/a" : f.ok() ? "yes" : "NO";
      if (!f.measurable) {
        ++unmeasurable;
      } else if (!f.ok()) {
        ++failed;
        ok = false;
      }
      report << fmt::format("  {:<18} {:>14} {:>14} {:>22}  {}\n", f.name,
                            format_value(f.configured, f.unit), format_value(f.measured, f.unit),
                            format_tolerance(f), verdict);
    }
    for (const Figure& f : r->figures) {
      if (!f.note.empty() && (!f.measurable || f.name == "delay p50" || f.name == "stalls")) {
        report << fmt::format("  note: {}: {}\n", f.name, f.note);
      }
    }
    DirectionResult& d = result.directions.emplace_back();
    d.direction = r->direction;
    d.sparse = {r->sparse.sent.sent, static_cast<double>(p.sparse_spacing.count()) / 1e6,
                sparse.unique};
    d.dense = {r->dense.sent.sent, r->dense.sent.achieved_pps, dense.unique, dense.early,
               dense.late};
    d.rate = {r->rate.sent.sent, p.rate_payload, r->rate.sent.achieved_pps,
              r->rate.received.arrivals.size()};
    d.base_p50_ms = base.delay.p50;
    d.base_p99_ms = base.delay.p99;
    d.figures = r->figures;
  }
  for (const auto& r : runs) {
    if (r->config->is_passthrough()) {
      report << '\n' << r->label << "\n  not impaired by the profile: not measured\n";
    }
  }
  report << '\n';
  if (ok) {
    report << fmt::format("verdict: all {} figures within tolerance", judged - unmeasurable);
  } else {
    report << fmt::format("verdict: {} of {} figures OUTSIDE their tolerance", failed,
                          judged - unmeasurable);
  }
  if (unmeasurable > 0) {
    report << fmt::format(" ({} not measurable on this testbed)", unmeasurable);
  }
  report << '\n';

  Outcome outcome;
  outcome.ok = ok;
  outcome.text = report.str();
  result.ok = ok;
  outcome.json = json_text(verify_json(result));
  return outcome;
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
  const Profile profile = setup.profile_path ? load_profile(*setup.profile_path)
                                             : default_profile();  // invalid: exit 2
  const Profile run_profile =
      setup.run_profile_path ? load_profile(*setup.run_profile_path) : profile;
  require_one_link(profile, "verify");
  require_one_link(run_profile, "verify");
  if (::geteuid() != 0) {
    throw std::runtime_error(
        "badlink verify needs root: it creates network namespaces, veth pairs and firewall "
        "rules");
  }
  // Before any thread starts: SIGINT/SIGTERM/SIGHUP become events, so the testbed is always
  // taken down by the destructors on the way out.
  Interrupt interrupt;
  try {
    const Outcome outcome = verify(setup, profile, run_profile, interrupt);
    std::cout << outcome.text << std::flush;
    if (setup.json) {
      if (*setup.json == "-") {
        std::cout << outcome.json << std::flush;
      } else {
        std::ofstream out(*setup.json);
        out << outcome.json;
        if (!out) {
          throw std::runtime_error("cannot write --json " + *setup.json);
        }
      }
    }
    return outcome.ok ? kExitOk : kExitFailure;
  } catch (const Interrupted& e) {
    spdlog::error("{}; the testbed is removed", e.what());
    return kExitFailure;
  }
}

}  // namespace badlink::cli
