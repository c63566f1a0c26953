// Shared pieces of the subcommands; see command.hh.
#include "cli/command.hh"

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

}  // namespace badlink::cli
