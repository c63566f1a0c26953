// Rules a badlink left behind when it was killed (kill -9, a crash): found in iptables-save
// output by their chain names, so that `badlink cleanup` can remove them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "divert/linux/firewall_rules.hh"

namespace badlink {

struct Leftover {
  std::string table;                // "mangle"
  int pid = 0;                      // the badlink that installed them
  std::vector<std::string> chains;  // BADLINK-<pid>-OUT, ...
  std::vector<RuleSpec> jumps;      // rules elsewhere that jump to those chains
};

// Parses `iptables-save` output; one Leftover per (table, pid), in order of appearance.
std::vector<Leftover> find_leftovers(std::string_view save_output);

// Splits an iptables-save rule line into arguments, honouring double quotes.
std::vector<std::string> split_rule_line(std::string_view line);

}  // namespace badlink
