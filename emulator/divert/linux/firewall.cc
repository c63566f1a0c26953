// Firewall objects over the iptables programs.
#include "divert/linux/firewall.hh"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "sys/subprocess.hh"
#include "sys/system_error.hh"

namespace badlink {

namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

Iptables::Iptables(IpFamily family) : family_(family) {
  const auto path = find_program(iptables_program(family));
  if (!path) {
    throw FirewallError(std::string(iptables_program(family)) +
                        " is not installed (Debian: apt-get install iptables)");
  }
  path_ = *path;
}

std::vector<std::string> Iptables::command(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{path_, "-w", "5", "-t", std::string(kFirewallTable)};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

void Iptables::run(const std::vector<std::string>& args) const {
  const std::vector<std::string> argv = command(args);
  spdlog::debug("{}", command_line(argv));
  ProgramResult result;
  try {
    result = run_program(argv);
  } catch (const SystemError& e) {
    throw FirewallError(command_line(argv) + ": " + e.what());
  }
  if (!result.ok()) {
    throw FirewallError(command_line(argv) + " failed (exit " + std::to_string(result.exit_status) +
                        "): " + trimmed(result.output));
  }
}

bool Iptables::run_quietly(const std::vector<std::string>& args,
                           std::string& output) const noexcept {
  try {
    const ProgramResult result = run_program(command(args));
    output = trimmed(result.output);
    if (!result.ok() && output.empty()) {  // a failure that says nothing: say how it ended
      output = "no output, exit status " + std::to_string(result.exit_status);
    }
    return result.ok();
  } catch (const std::exception& e) {
    output = e.what();
    return false;
  }
}

std::string Iptables::version() const {
  try {
    const ProgramResult result = run_program({path_, "--version"});
    return trimmed(result.output);
  } catch (const std::exception& e) {
    return std::string(iptables_program(family_)) + " (version unknown: " + e.what() + ")";
  }
}

FirewallChain::FirewallChain(const Iptables& iptables, std::string name)
    : iptables_(iptables), name_(std::move(name)) {
  iptables_.run({"-N", name_});
}

FirewallChain::FirewallChain(FirewallChain&& other) noexcept
    : iptables_(other.iptables_), name_(std::move(other.name_)), owned_(other.owned_) {
  other.owned_ = false;
}

FirewallChain::~FirewallChain() {
  if (!owned_) {
    return;
  }
  std::string output;
  if (!iptables_.run_quietly({"-F", name_}, output) ||
      !iptables_.run_quietly({"-X", name_}, output)) {
    spdlog::error("could not remove {} chain {}: {}; 'badlink cleanup' removes it",
                  to_string(iptables_.family()), name_, output);
  } else {
    spdlog::debug("removed {} chain {}", to_string(iptables_.family()), name_);
  }
}

void FirewallChain::append(const RuleSpec& rule) {
  std::vector<std::string> args{"-A", name_};
  args.insert(args.end(), rule.args.begin(), rule.args.end());
  iptables_.run(args);
}

FirewallRule::FirewallRule(const Iptables& iptables, RuleSpec rule)
    : iptables_(iptables), rule_(std::move(rule)) {
  std::vector<std::string> args{"-I", rule_.chain, "1"};
  args.insert(args.end(), rule_.args.begin(), rule_.args.end());
  iptables_.run(args);
}

FirewallRule::FirewallRule(FirewallRule&& other) noexcept
    : iptables_(other.iptables_), rule_(std::move(other.rule_)), owned_(other.owned_) {
  other.owned_ = false;
}

FirewallRule::~FirewallRule() {
  if (!owned_) {
    return;
  }
  std::vector<std::string> args{"-D", rule_.chain};
  args.insert(args.end(), rule_.args.begin(), rule_.args.end());
  std::string output;
  if (!iptables_.run_quietly(args, output)) {
    spdlog::error("could not remove rule '{}': {}; 'badlink cleanup' removes it",
                  describe(rule_, iptables_.family(), "-D"), output);
  }
}

Firewall::Firewall(const std::vector<FamilyRules>& plan, std::array<bool, kDirections> diverted) {
  // Reserve so that moving into the vectors never reallocates (an element moved out of a
  // reallocation would be harmless, but this keeps the story simple).
  size_t chains = 0;
  size_t jumps = 0;
  for (const FamilyRules& f : plan) {
    chains += f.chains.size();
    jumps += f.jumps.size();
  }
  chains_.reserve(chains);
  jumps_.reserve(jumps);
  for (const FamilyRules& f : plan) {
    if (f.empty()) {
      continue;
    }
    const Iptables iptables(f.family);
    const size_t first = chains_.size();  // this family's chains (names repeat across families)
    for (const std::string& name : f.chains) {
      chains_.emplace_back(iptables, name);
    }
    for (const RuleSpec& rule : f.chain_rules) {
      for (size_t i = first; i < chains_.size(); ++i) {
        if (chains_[i].name() == rule.chain) {
          chains_[i].append(rule);
          ++chain_rules_;
        }
      }
    }
    for (size_t i = 0; i < f.jumps.size(); ++i) {
      jumps_.push_back(Jump{iptables, f.jumps[i], direction_of_jump(i), std::nullopt});
    }
  }
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    if (diverted[index_of(d)]) {
      divert(d, true);
    }
  }
}

void Firewall::divert(Direction d, bool on) {
  if (!on) {
    for (Jump& j : jumps_) {
      if (j.direction == d) {
        j.rule.reset();
      }
    }
    return;
  }
  std::vector<Jump*> added;
  try {
    for (Jump& j : jumps_) {
      if (j.direction == d && !j.rule) {
        j.rule.emplace(j.iptables, j.spec);
        added.push_back(&j);
      }
    }
  } catch (...) {
    for (Jump* j : added) {
      j->rule.reset();
    }
    throw;
  }
}

std::vector<FirewallRule> Firewall::prepare_jumps(Direction d) const {
  std::vector<FirewallRule> rules;
  for (const Jump& j : jumps_) {
    if (j.direction == d && !j.rule) {
      rules.emplace_back(j.iptables, j.spec);  // a failure takes out those made before it
    }
  }
  return rules;
}

void Firewall::adopt_jumps(Direction d, std::vector<FirewallRule> rules) noexcept {
  size_t next = 0;
  for (Jump& j : jumps_) {
    if (j.direction == d && !j.rule && next < rules.size()) {
      j.rule.emplace(std::move(rules[next++]));
    }
  }
}

std::vector<FirewallRule> Firewall::release_jumps(Direction d) noexcept {
  std::vector<FirewallRule> rules;
  for (Jump& j : jumps_) {
    if (j.direction == d && j.rule) {
      try {
        rules.push_back(std::move(*j.rule));
      } catch (...) {  // no memory to hand it over: removed here and now
      }
      j.rule.reset();
    }
  }
  return rules;
}

bool Firewall::diverted(Direction d) const {
  return std::any_of(jumps_.begin(), jumps_.end(),
                     [d](const Jump& j) { return j.direction == d && j.rule.has_value(); });
}

size_t Firewall::rule_count() const {
  return chain_rules_ +
         static_cast<size_t>(std::count_if(jumps_.begin(), jumps_.end(),
                                           [](const Jump& j) { return j.rule.has_value(); }));
}

std::string FirewallMechanism::describe() const {
  std::string out = iptables_version.empty() ? std::string("iptables") : iptables_version;
  out += nft_compat ? ": NFQUEUE rules through the nf_tables compat layer (xt NFQUEUE)"
                    : ": NFQUEUE rules (legacy xtables)";
  switch (native_nft_queue) {
    case NativeQueue::present:
      out += "; the kernel also has native nft 'queue' (not needed)";
      break;
    case NativeQueue::absent:
      out += "; the kernel has no native nft 'queue' expression";
      break;
    case NativeQueue::unknown:
      break;
  }
  return out;
}

FirewallMechanism detect_firewall_mechanism() {
  FirewallMechanism m;
  m.iptables_version = Iptables(IpFamily::ipv4).version();
  m.nft_compat = m.iptables_version.find("nf_tables") != std::string::npos;
  if (find_program("nft")) {
    try {
      // -c: checked by the kernel, then discarded; nothing is installed.
      const ProgramResult r = run_program(
          {"nft", "-c",
           "add table inet badlink_probe; add chain inet badlink_probe c { type filter hook "
           "output priority 0; }; add rule inet badlink_probe c queue num 0 bypass"});
      m.native_nft_queue =
          r.ok() ? FirewallMechanism::NativeQueue::present : FirewallMechanism::NativeQueue::absent;
    } catch (const std::exception&) {
      m.native_nft_queue = FirewallMechanism::NativeQueue::unknown;
    }
  }
  return m;
}

}  // namespace badlink
