// Shared pieces of the subcommands; see command.hh.
#include "cli/command.hh"

#include "profile/profile.hh"

namespace badlink::cli {

namespace po = boost::program_options;

po::variables_map parse_command_line(const std::vector<std::string>& args,
                                     const po::options_description& options,
                                     const po::positional_options_description& positional) {
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
  po::notify(vm);
  return vm;
}

void require_one_link(const Profile& profile, std::string_view command) {
  if (profile.links.size() <= 1) {
    return;
  }
  std::string names;
  for (const Link& link : profile.links) {
    names += (names.empty() ? "" : ", ") + link.name;
  }
  throw ProfileError({Diagnostic{
      profile.source, 0, 0,
      std::to_string(profile.links.size()) + " links (" + names + "): badlink " +
          std::string(command) +
          " applies one link for now; give it a profile with one link (badlink replay " +
          "applies all of them)"}});
}

}  // namespace badlink::cli
