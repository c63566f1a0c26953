// `badlink ctl`: a running badlink's control API from the command line. Parses options,
// makes one request (watch: one a second) and prints the answer.
#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "api/endpoint.hh"
#include "cli/api_client.hh"
#include "cli/command.hh"
#include "core/latency_histogram.hh"
#include "sys/interrupt.hh"

namespace po = boost::program_options;

namespace badlink::cli {

namespace {

using nlohmann::json;
using ordered = nlohmann::ordered_json;  // printed in the order the API wrote it

po::options_description ctl_options() {
  po::options_description options("Ctl options");
  // clang-format off
  options.add_options()
      ("api", po::value<std::string>()->value_name("ENDPOINT"),
       "the instance's API: unix:PATH, ADDRESS:PORT or [ADDRESS]:PORT (default: the only "
       "badlink run on this host, through /run/badlink)")
      ("api-token-file", po::value<std::string>()->value_name("FILE"),
       "send the bearer token in FILE")
      ("link", po::value<std::string>()->value_name("NAME"),
       "set, outage: the link to change (default: the profile's only link)")
      ("json", "stats: the JSON as GET /v1/stats gives it")
      ("toml", "show: the profile as TOML, as badlink show prints it")
      ("mode", po::value<std::string>()->value_name("MODE"), "outage: drop (default) or hold")
      ("direction", po::value<std::string>()->value_name("D"),
       "outage: outbound, inbound or both (default)")
      ("command", po::value<std::string>(), "")
      ("args", po::value<std::vector<std::string>>()->multitoken(), "");
  // clang-format on
  return options;
}

struct Ctl {
  api::Endpoint endpoint;
  std::string token;

  ApiReply call(const ApiRequest& r) const { return call_api(endpoint, r, token); }
};

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw UsageError(what + " " + path + ": cannot read");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// An API error's message, with its position when it has one.
std::string error_text(const ApiReply& r) {
  try {
    const json body = json::parse(r.body);
    std::string out = body.value("error", r.body);
    if (body.contains("line")) {
      out = fmt::format("{}:{}: {}", body["line"].get<int>(), body["column"].get<int>(), out);
    }
    return out;
  } catch (const json::exception&) {
    return r.body;
  }
}

// 2xx: the body; 4xx that says the input was wrong: exit 2 with the API's message; else 1.
int finish(const ApiReply& r, bool print_body = true) {
  if (r.status >= 200 && r.status < 300) {
    if (print_body) {
      std::cout << r.body << std::flush;
    }
    return kExitOk;
  }
  std::cerr << "badlink ctl: " << r.status << ": " << error_text(r) << "\n";
  const bool bad_input = r.status == 400 || r.status == 401 || r.status == 404 || r.status == 405 ||
                         r.status == 413 || r.status == 415;
  return bad_input ? kExitUsage : kExitFailure;
}

ordered get_json(const Ctl& ctl, const std::string& target) {
  const ApiReply r = ctl.call({"GET", target, "", "", ""});
  if (r.status != 200) {
    throw std::runtime_error(target + ": " + std::to_string(r.status) + ": " + error_text(r));
  }
  return ordered::parse(r.body);
}

std::string only_link(const Ctl& ctl) {
  const ordered links = get_json(ctl, "/v1/links");
  if (links.size() != 1) {
    throw UsageError("the profile has " + std::to_string(links.size()) +
                     " links; say which with --link NAME");
  }
  return links[0]["name"].get<std::string>();
}

// A value as the command line wrote it: true/false and integers as such, else a string
// ("80ms", "1%"); an empty one resets the key (null).
json value_of(const std::string& text) {
  if (text.empty()) {
    return nullptr;
  }
  if (text == "true" || text == "false") {
    return text == "true";
  }
  int64_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc{} && ptr == text.data() + text.size()) {
    return n;
  }
  return text;
}

int ctl_set(const Ctl& ctl, const std::vector<std::string>& assignments,
            const std::string& link_option) {
  if (assignments.empty()) {
    throw UsageError("ctl set needs DIRECTION.KEY=VALUE, e.g. outbound.delay=80ms");
  }
  json body = json::object();  // by direction: one PATCH of the link, one change
  for (const std::string& a : assignments) {
    const size_t eq = a.find('=');
    const size_t dot = a.find('.');
    if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
      throw UsageError("'" + a + "': expected DIRECTION.KEY=VALUE, e.g. outbound.delay=80ms");
    }
    const std::string direction = a.substr(0, dot);
    if (direction != "outbound" && direction != "inbound") {
      throw UsageError("'" + a + "': the direction is outbound or inbound");
    }
    body[direction][a.substr(dot + 1, eq - dot - 1)] = value_of(a.substr(eq + 1));
  }
  const std::string link = link_option.empty() ? only_link(ctl) : link_option;
  return finish(ctl.call({"PATCH", "/v1/links/" + link, body.dump(), "application/json", ""}),
                false);
}

double per_second(uint64_t now, uint64_t before, double seconds) {
  return seconds > 0 && now >= before ? static_cast<double>(now - before) / seconds : 0.0;
}

// One line per link and direction: rate, loss, delay p50/p99, packets in badlink.
void print_watch(const ordered& now, const ordered* before, double seconds) {
  for (const auto& [link, directions] : now["links"].items()) {
    for (const auto& [direction, s] : directions.items()) {
      const ordered* b = nullptr;
      if (before != nullptr && before->contains("links") && (*before)["links"].contains(link) &&
          (*before)["links"][link].contains(direction)) {
        b = &(*before)["links"][link][direction];
      }
      const auto count = [&](const char* key) { return s.value(key, uint64_t{0}); };
      const auto was = [&](const char* key) {
        return b != nullptr ? b->value(key, uint64_t{0}) : count(key);
      };
      const uint64_t received = count("received") - was("received");
      const uint64_t lost = count("dropped_loss") + count("dropped_queue") - was("dropped_loss") -
                            was("dropped_queue");
      const double loss =
          received > 0 ? 100.0 * static_cast<double>(lost) / static_cast<double>(received) : 0.0;
      const uint64_t in = count("received") + count("duplicated");
      const uint64_t out =
          count("sent") + count("dropped_loss") + count("dropped_queue") + count("dropped_memory");
      // The delay percentiles of what left in this interval, from the histograms' difference
      // (since the start where there is none before: ctl stats).
      std::string p50 = fmt::format("{:>8.2f}", s["delay_us"].value("p50", 0.0) / 1000.0);
      std::string p99 = fmt::format("{:>8.2f}", s["delay_us"].value("p99", 0.0) / 1000.0);
      if (b != nullptr && s.contains("delay_buckets") && b->contains("delay_buckets")) {
        const auto buckets_now =
            s["delay_buckets"].get<std::vector<std::pair<uint64_t, uint64_t>>>();
        const auto buckets_before =
            (*b)["delay_buckets"].get<std::vector<std::pair<uint64_t, uint64_t>>>();
        const auto shown = [&](double q) {
          const std::optional<uint64_t> ns = percentile_between(buckets_before, buckets_now, q);
          return ns ? fmt::format("{:>8.2f}", static_cast<double>(*ns) / 1e6)
                    : fmt::format("{:>8}", "-");
        };
        p50 = shown(0.50);
        p99 = shown(0.99);
      }
      std::cout << fmt::format(
          "{:<12} {:<8} {:>9.0f} pkt/s {:>8.2f} Mbit/s  loss {:>5.1f}%  delay p50 {} ms "
          "p99 {} ms  queue {}\n",
          link, direction, per_second(count("received"), was("received"), seconds),
          per_second(count("bytes_sent"), was("bytes_sent"), seconds) * 8 / 1e6, loss, p50, p99,
          in > out ? in - out : 0);
    }
  }
  std::cout << std::flush;
}

int ctl_watch(const Ctl& ctl) {
  Interrupt interrupt;
  ordered before = get_json(ctl, "/v1/stats?delay_buckets=1");
  auto then = std::chrono::steady_clock::now();
  for (;;) {
    try {
      interrupt.wait(std::chrono::seconds(1));
    } catch (const Interrupted&) {
      return kExitOk;
    }
    ordered now = get_json(ctl, "/v1/stats?delay_buckets=1");
    const auto at = std::chrono::steady_clock::now();
    print_watch(now, &before, std::chrono::duration<double>(at - then).count());
    before = std::move(now);
    then = at;
  }
}

int ctl_stats(const Ctl& ctl, bool as_json) {
  const ApiReply r = ctl.call({"GET", "/v1/stats", "", "", ""});
  if (as_json || r.status != 200) {
    return finish(r);
  }
  print_watch(ordered::parse(r.body), nullptr, 0);
  return kExitOk;
}

}  // namespace

std::string ctl_help() {
  std::ostringstream out;
  out << "Usage: badlink ctl [--api ENDPOINT] [--api-token-file FILE] COMMAND ...\n"
         "\n"
         "Talks to a running badlink's control API (badlink run --api).\n"
         "  show [--toml]                      the running profile (JSON, or TOML)\n"
         "  set DIR.KEY=VALUE... [--link NAME] change direction keys, e.g.\n"
         "                                     outbound.delay=80ms inbound.loss=1%;\n"
         "                                     DIR.KEY= goes back to the profile's value\n"
         "  load FILE                          apply a whole profile (as SIGHUP: all or nothing)\n"
         "  reset                              back to the profile loaded at start\n"
         "  outage DURATION [--mode hold] [--direction D] [--link NAME]\n"
         "                                     the link goes down now for DURATION: packets\n"
         "                                     dropped, or held and released in order\n"
         "  timeline [restart|pause|resume]    the schedules' timeline: shown, started again\n"
         "                                     from 0, held where it is, or let go on\n"
         "  stats [--json]                     counters, per link and direction\n"
         "  watch                              one line a second per link and direction\n"
         "\n"
      << ctl_options()
      << "\n"
         "Exit status: 0 done, 1 failure (no instance, the change failed), 2 bad usage or a value\n"
         "the API refused (its message is printed).\n";
  return out.str();
}

int ctl_main(const std::vector<std::string>& args) {
  po::positional_options_description positional;
  positional.add("command", 1).add("args", -1);
  const po::variables_map vm = parse_command_line(args, ctl_options(), positional);
  if (vm.count("command") == 0) {
    throw UsageError(
        "ctl needs a command: show, set, load, reset, outage, timeline, stats or watch");
  }
  Ctl ctl;
  try {
    ctl.endpoint =
        vm.count("api") != 0 ? api::parse_endpoint(vm["api"].as<std::string>()) : find_local_api();
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--api ") + e.what());
  }
  if (vm.count("api-token-file") != 0) {
    ctl.token = read_file(vm["api-token-file"].as<std::string>(), "--api-token-file");
    while (!ctl.token.empty() && std::isspace(static_cast<unsigned char>(ctl.token.back()))) {
      ctl.token.pop_back();
    }
  }
  const std::string command = vm["command"].as<std::string>();
  const std::vector<std::string> rest = vm.count("args") != 0
                                            ? vm["args"].as<std::vector<std::string>>()
                                            : std::vector<std::string>{};
  const std::string link = vm.count("link") != 0 ? vm["link"].as<std::string>() : "";
  const auto no_arguments = [&]() {
    if (!rest.empty()) {
      throw UsageError("ctl " + command + " takes no argument '" + rest.front() + "'");
    }
  };
  if (command == "show") {
    no_arguments();
    return finish(ctl.call({"GET", "/v1/profile", "", "",
                            vm.count("toml") != 0 ? "application/toml" : "application/json"}));
  }
  if (command == "set") {
    return ctl_set(ctl, rest, link);
  }
  if (command == "load") {
    if (rest.size() != 1) {
      throw UsageError("ctl load needs one profile FILE");
    }
    const std::string text = read_file(rest.front(), "ctl load");
    return finish(ctl.call({"PUT", "/v1/profile", text, "application/toml", ""}), false);
  }
  if (command == "reset") {
    no_arguments();
    return finish(ctl.call({"POST", "/v1/reset", "", "", ""}), false);
  }
  if (command == "outage") {
    if (rest.size() != 1) {
      throw UsageError("ctl outage needs one DURATION, e.g. ctl outage 2s --mode hold");
    }
    json body{{"duration", rest.front()}};
    if (vm.count("mode") != 0) {
      body["mode"] = vm["mode"].as<std::string>();
    }
    if (vm.count("direction") != 0) {
      body["direction"] = vm["direction"].as<std::string>();
    }
    const std::string target = link.empty() ? only_link(ctl) : link;
    return finish(
        ctl.call({"POST", "/v1/links/" + target + "/outage", body.dump(), "application/json", ""}),
        false);
  }
  if (command == "timeline") {
    if (rest.empty()) {
      return finish(ctl.call({"GET", "/v1/timeline", "", "", ""}));
    }
    const std::string& what = rest.front();
    if (rest.size() != 1 || (what != "restart" && what != "pause" && what != "resume")) {
      throw UsageError("ctl timeline takes nothing (show it), restart, pause or resume");
    }
    return finish(ctl.call({"POST", "/v1/timeline/" + what, "", "", ""}));
  }
  if (command == "stats") {
    no_arguments();
    return ctl_stats(ctl, vm.count("json") != 0);
  }
  if (command == "watch") {
    no_arguments();
    return ctl_watch(ctl);
  }
  throw UsageError("unknown ctl command '" + command +
                   "': show, set, load, reset, outage, timeline, stats or watch");
}

}  // namespace badlink::cli
