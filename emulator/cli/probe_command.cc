// `badlink probe send|recv`: the measuring stick of verify and the integration tests as a
// command. Numbered, timestamped UDP packets one way; key=value results on standard output.
#include <spdlog/spdlog.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/command.hh"
#include "probe/probe_packet.hh"
#include "probe/probe_stats.hh"
#include "probe/udp_probe.hh"

namespace po = boost::program_options;

namespace badlink::cli {

namespace {

using namespace badlink::probe;

po::options_description send_options() {
  po::options_description o("probe send options");
  // clang-format off
  o.add_options()
      ("to", po::value<std::string>()->required()->value_name("ADDR"), "destination address")
      ("port", po::value<uint16_t>()->required()->value_name("PORT"), "destination port")
      ("count", po::value<uint64_t>()->required()->value_name("N"), "packets to send")
      ("rate", po::value<double>()->required()->value_name("PPS"), "packets per second")
      ("size", po::value<uint32_t>()->default_value(64)->value_name("BYTES"),
       "UDP payload per packet (24..65000)")
      ("stream", po::value<uint16_t>()->default_value(0)->value_name("ID"),
       "stream number; the receiver takes only its own")
      ("netns", po::value<std::string>()->value_name("NAME"),
       "send from network namespace NAME (/run/netns/NAME)");
  // clang-format on
  return o;
}

po::options_description recv_options() {
  po::options_description o("probe recv options");
  // clang-format off
  o.add_options()
      ("bind", po::value<std::string>()->required()->value_name("ADDR"), "address to listen on")
      ("port", po::value<uint16_t>()->required()->value_name("PORT"), "port to listen on")
      ("count", po::value<uint64_t>()->required()->value_name("N"), "packets the sender sends")
      ("idle", po::value<double>()->default_value(2.0)->value_name("SECONDS"),
       "stop this long after the last packet")
      ("max-time", po::value<double>()->default_value(60.0)->value_name("SECONDS"),
       "stop this long after starting")
      ("user-stamp", "stamp arrivals in user space, not with the kernel's receive time "
                     "(needed on a host whose inbound traffic badlink delays)")
      ("ready", po::value<std::string>()->value_name("FILE"),
       "create FILE once listening")
      ("stream", po::value<uint16_t>()->default_value(0)->value_name("ID"), "stream number")
      ("ipv6-overhead", "count 48 header bytes per datagram for the throughput, not 28")
      ("arrivals", po::value<std::string>()->value_name("FILE"),
       "write one line per datagram to FILE: seq sent_ns received_ns bytes damaged")
      ("netns", po::value<std::string>()->value_name("NAME"),
       "listen in network namespace NAME (/run/netns/NAME)");
  // clang-format on
  return o;
}

std::string netns_of(const po::variables_map& vm) {
  return vm.count("netns") != 0 ? vm["netns"].as<std::string>() : std::string();
}

Endpoint endpoint(const std::string& option, const std::string& host, uint16_t port) {
  try {
    return make_endpoint(host, port);
  } catch (const std::invalid_argument& e) {
    throw UsageError("--" + option + ": " + e.what());
  }
}

int send_main(const std::vector<std::string>& args) {
  const po::variables_map vm = parse_command_line({args.begin() + 1, args.end()}, send_options());
  const Endpoint to = endpoint("to", vm["to"].as<std::string>(), vm["port"].as<uint16_t>());
  SendPlan plan;
  plan.count = vm["count"].as<uint64_t>();
  plan.rate_pps = vm["rate"].as<double>();
  plan.payload_bytes = vm["size"].as<uint32_t>();
  plan.stream = vm["stream"].as<uint16_t>();
  if (plan.payload_bytes < kMinProbePayload || plan.payload_bytes > kMaxProbePayload) {
    throw UsageError("--size must be 24..65000");
  }
  if (!(plan.rate_pps > 0) || !std::isfinite(plan.rate_pps)) {
    throw UsageError("--rate must be positive");
  }
  const FileDescriptor fd = open_sender(netns_of(vm), to);
  const ProbeControl control;
  const SendReport r = send_probes(fd.fd(), plan, control);
  std::printf("sent=%llu\nsend_errors=%llu\nelapsed_s=%.6f\ntarget_pps=%.3f\nachieved_pps=%.3f\n",
              static_cast<unsigned long long>(r.sent),
              static_cast<unsigned long long>(r.send_errors), r.elapsed_s, plan.rate_pps,
              r.achieved_pps);
  std::fflush(stdout);
  return kExitOk;
}

int recv_main(const std::vector<std::string>& args) {
  const po::variables_map vm = parse_command_line({args.begin() + 1, args.end()}, recv_options());
  const Endpoint at = endpoint("bind", vm["bind"].as<std::string>(), vm["port"].as<uint16_t>());
  ReceivePlan plan;
  plan.count = vm["count"].as<uint64_t>();
  plan.stream = vm["stream"].as<uint16_t>();
  plan.stamp = vm.count("user-stamp") != 0 ? Stamp::user : Stamp::kernel;
  const double idle = vm["idle"].as<double>();
  const double max_time = vm["max-time"].as<double>();
  if (plan.count == 0 || !(idle > 0) || !(max_time > 0)) {
    throw UsageError("--count, --idle and --max-time must be positive");
  }
  plan.idle = Duration{static_cast<int64_t>(idle * 1e9)};
  plan.max_time = Duration{static_cast<int64_t>(max_time * 1e9)};
  const FileDescriptor fd = open_receiver(netns_of(vm), at);
  if (vm.count("ready") != 0) {
    std::ofstream(vm["ready"].as<std::string>()) << "ready\n";
  }
  const ProbeControl control;
  const ReceiveReport report = receive_probes(fd.fd(), plan, control);
  if (vm.count("arrivals") != 0) {
    std::ofstream out(vm["arrivals"].as<std::string>());
    for (const Arrival& a : report.arrivals) {
      out << a.seq << ' ' << a.sent_ns << ' ' << a.received_ns << ' ' << a.bytes << ' '
          << (a.damaged ? 1 : 0) << '\n';
    }
  }
  const uint32_t overhead = vm.count("ipv6-overhead") != 0 ? kUdpIpv6Overhead : kUdpIpv4Overhead;
  const ProbeSummary s = summarize(report, plan.count, overhead);
  std::vector<double> sorted = s.delays_ms;
  std::sort(sorted.begin(), sorted.end());
  const auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf(
      "expected=%llu\nreceived=%llu\nunique=%llu\nlost=%llu\nduplicates=%llu\nreordered=%llu\n"
      "early=%llu\ndamaged=%llu\nforeign=%llu\n",
      u(s.expected), u(s.received), u(s.unique), u(s.lost), u(s.duplicates), u(s.late), u(s.early),
      u(s.damaged), u(report.foreign));
  std::printf(
      "delay_min_ms=%.4f\ndelay_p1_ms=%.4f\ndelay_p5_ms=%.4f\ndelay_p50_ms=%.4f\n"
      "delay_p95_ms=%.4f\ndelay_p99_ms=%.4f\ndelay_max_ms=%.4f\ndelay_mean_ms=%.4f\n"
      "delay_stddev_ms=%.4f\nthroughput_bps=%.0f\n",
      s.delay.min, quantile(sorted, 0.01), quantile(sorted, 0.05), s.delay.p50,
      quantile(sorted, 0.95), s.delay.p99, s.delay.max, s.delay.mean, s.delay.stddev,
      s.throughput_bps);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

std::string probe_help() {
  std::ostringstream out;
  out << "Usage: badlink probe send --to ADDR --port PORT --count N --rate PPS [--size BYTES]\n"
         "                          [--stream ID] [--netns NAME]\n"
         "       badlink probe recv --bind ADDR --port PORT --count N [--idle S] [--max-time S]\n"
         "                          [--user-stamp] [--ready FILE] [--stream ID] [--netns NAME]\n"
         "\n"
         "The measuring stick of 'badlink verify' and of the integration tests. The sender sends\n"
         "N numbered UDP packets at PPS packets/s, each stamped with CLOCK_REALTIME; the\n"
         "receiver reports, as key=value lines: received, lost, duplicates, reordered (arrived\n"
         "after a higher sequence number, RFC 4737), early (overtook a lower one), damaged (a\n"
         "bit flipped on the way), one-way delay percentiles (receive stamp - send stamp: all\n"
         "network namespaces of one host share CLOCK_REALTIME), and throughput_bps (IP bits/s\n"
         "from the first arrival to the last). The sender reports the rate it achieved.\n"
         "\n"
         "The receiver stamps with the kernel's receive time, which is taken before netfilter's\n"
         "INPUT hook: on a host whose inbound traffic badlink delays, use --user-stamp.\n"
         "\n"
      << send_options() << '\n'
      << recv_options()
      << "\nExit status: 0 done (whatever was measured), 1 runtime failure, 2 bad usage.\n";
  return out.str();
}

int probe_main(const std::vector<std::string>& args) {
  if (args.empty()) {
    throw UsageError("probe needs 'send' or 'recv'");
  }
  if (args.front() == "send") {
    return send_main(args);
  }
  if (args.front() == "recv") {
    return recv_main(args);
  }
  throw UsageError("probe: unknown mode '" + args.front() + "' (send or recv)");
}

}  // namespace badlink::cli
