// `badlink check` and `badlink show`: profiles validated and printed, nothing else touched.
#include <boost/program_options.hpp>
#include <iostream>

#include "cli/command.hh"
#include "profile/default_profile.hh"
#include "profile/profile.hh"
#include "profile/units.hh"

namespace po = boost::program_options;

namespace badlink::cli {

namespace {

po::options_description profiles_option() {
  po::options_description hidden;
  hidden.add_options()("profiles", po::value<std::vector<std::string>>(), "profile files");
  return hidden;
}

}  // namespace

std::string check_help() {
  return "Usage: badlink check PROFILE...\n"
         "\n"
         "Validates each profile completely. Prints \"PROFILE: ok\" on standard output for a\n"
         "good one (\"PROFILE: ok (N links)\" when it has several [[link]]s); for a bad one,\n"
         "every problem on standard error as FILE:LINE:COL: message.\n"
         "\n"
         "Exit status: 0 when every profile is valid, 2 when any is not (or on bad usage).\n";
}

namespace {

// Each trace a profile names, one line each under check's "ok": how long it runs and what it
// carries.
void report_traces(const Profile& profile) {
  for (const Link& link : profile.links) {
    const std::string who = profile.links.size() > 1 ? "link " + link.name + " " : "";
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      std::vector<const DeliveryTrace*> seen;
      std::vector<const DirectionConfig*> configs{&link.direction(d)};
      for (const ScheduleStep& step : link.schedule.steps) {
        configs.push_back(&step.configs[index_of(d)]);
      }
      for (const DirectionConfig* c : configs) {
        const DeliveryTrace* t = c->rate.trace.get();
        if (t == nullptr || std::find(seen.begin(), seen.end(), t) != seen.end()) {
          continue;
        }
        seen.push_back(t);
        std::cout << "  " << who << to_string(d) << " rate trace " << t->source << ": "
                  << t->ms.size() << " delivery opportunities over " << format_duration(t->period())
                  << ", " << format_rate(static_cast<uint64_t>(t->mean_bits_per_second()))
                  << " on average" << (t->loop ? ", looping" : ", once") << '\n';
      }
      if (const auto& t = link.traces[index_of(d)]) {
        std::string columns;
        for (const std::string& c : t->columns) {
          columns += (columns.empty() ? "" : ",") + c;
        }
        std::cout << "  " << who << to_string(d) << " trace " << t->source << ": " << t->rows.size()
                  << " row" << (t->rows.size() == 1 ? "" : "s") << " over "
                  << format_duration(t->duration()) << " (" << columns << ")" << '\n';
      }
    }
  }
}

}  // namespace

int check_main(const std::vector<std::string>& args) {
  po::positional_options_description positional;
  positional.add("profiles", -1);
  const po::variables_map vm = parse_command_line(args, profiles_option(), positional);
  if (vm.count("profiles") == 0) {
    throw UsageError("check needs at least one PROFILE");
  }
  bool all_ok = true;
  for (const std::string& file : vm["profiles"].as<std::vector<std::string>>()) {
    try {
      const Profile profile = load_profile(file);
      std::cout << file << ": ok";
      if (profile.links.size() > 1) {
        std::cout << " (" << profile.links.size() << " links)";
      }
      for (const Link& link : profile.links) {
        const Schedule& s = link.schedule;
        if (!s.empty()) {
          std::cout << " (" << (profile.links.size() > 1 ? "link " + link.name + ": " : "")
                    << s.steps.size() << " schedule step" << (s.steps.size() == 1 ? "" : "s")
                    << (s.repeat ? ", repeating every " + format_duration(*s.repeat) : "")
                    << ")";
        }
      }
      std::cout << '\n';
      report_traces(profile);
    } catch (const ProfileError& e) {
      all_ok = false;
      for (const Diagnostic& d : e.diagnostics()) {
        std::cerr << d.to_string() << '\n';
      }
    }
  }
  std::cout.flush();
  return all_ok ? kExitOk : kExitUsage;
}

std::string show_help() {
  return "Usage: badlink show [PROFILE]\n"
         "\n"
         "Prints the effective profile: every default filled in, as TOML that badlink reads\n"
         "back to the same settings. Without PROFILE: the built-in default profile (a typical\n"
         "4G/LTE link, the same as profiles/lte.toml). With several [[link]]s, a comment above\n"
         "each says which traffic it gets: its match, less what an earlier link takes first.\n"
         "\n"
         "Exit status: 0 ok, 2 when the profile is invalid (problems on standard error as\n"
         "FILE:LINE:COL: message) or on bad usage.\n";
}

int show_main(const std::vector<std::string>& args) {
  po::positional_options_description positional;
  positional.add("profiles", 1);
  const po::variables_map vm = parse_command_line(args, profiles_option(), positional);
  const std::string text =
      render_profile(vm.count("profiles") == 0
                         ? default_profile()
                         : load_profile(vm["profiles"].as<std::vector<std::string>>().front()));
  std::cout << text;
  if (!text.empty() && text.back() != '\n') {
    std::cout << '\n';
  }
  std::cout.flush();
  return kExitOk;
}

}  // namespace badlink::cli
