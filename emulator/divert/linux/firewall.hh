// Firewall rules as objects: a chain or a rule exists while its object does, and every exit
// path (return, exception, SIGINT/SIGTERM through the loop) removes it. Installed with the
// iptables programs, which speak nf_tables (xt compat) or legacy as the system has them.
#pragma once

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "divert/linux/firewall_rules.hh"

namespace badlink {

// An iptables command failed: the message has the command and what it printed.
class FirewallError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One of the iptables programs (iptables, ip6tables), always with -w (wait for the xtables
// lock) and -t mangle.
class Iptables {
 public:
  // Throws FirewallError when the program is not installed.
  explicit Iptables(IpFamily family);

  // Runs `PROGRAM -w 5 -t mangle ARGS`; throws FirewallError when it fails.
  void run(const std::vector<std::string>& args) const;
  // The same, for destructors: false (and the program's words in `output`) on failure.
  bool run_quietly(const std::vector<std::string>& args, std::string& output) const noexcept;

  IpFamily family() const { return family_; }
  const std::string& path() const { return path_; }
  // "iptables v1.8.9 (nf_tables)"
  std::string version() const;

 private:
  std::vector<std::string> command(const std::vector<std::string>& args) const;

  IpFamily family_;
  std::string path_;
};

// A chain of our own: created empty (-N); flushed and deleted (-F, -X) on destruction.
class FirewallChain {
 public:
  FirewallChain(const Iptables& iptables, std::string name);
  ~FirewallChain();
  FirewallChain(FirewallChain&& other) noexcept;
  FirewallChain& operator=(FirewallChain&&) = delete;
  FirewallChain(const FirewallChain&) = delete;
  FirewallChain& operator=(const FirewallChain&) = delete;

  // Appends a rule inside the chain; it goes with the chain.
  void append(const RuleSpec& rule);
  const std::string& name() const { return name_; }

 private:
  Iptables iptables_;
  std::string name_;
  bool owned_ = true;
};

// A rule in a chain we do not own (a jump from OUTPUT): inserted first (-I CHAIN 1) and
// deleted (-D) on destruction.
class FirewallRule {
 public:
  FirewallRule(const Iptables& iptables, RuleSpec rule);
  ~FirewallRule();
  FirewallRule(FirewallRule&& other) noexcept;
  FirewallRule& operator=(FirewallRule&&) = delete;
  FirewallRule(const FirewallRule&) = delete;
  FirewallRule& operator=(const FirewallRule&) = delete;

  const RuleSpec& rule() const { return rule_; }

 private:
  Iptables iptables_;
  RuleSpec rule_;
  bool owned_ = true;
};

// Everything one badlink installs for its plan: chains filled first, jumps to them last, so
// that no packet meets a half-built chain; removed in the reverse order. A direction's jumps
// may be left out (`diverted`) and put in later: a direction that changes nothing is cheapest
// not queued at all.
class Firewall {
 public:
  explicit Firewall(const std::vector<FamilyRules>& plan,
                    std::array<bool, kDirections> diverted = {true, true});
  Firewall(const Firewall&) = delete;
  Firewall& operator=(const Firewall&) = delete;

  // Puts direction `d`'s jumps in (`on`) or takes them out. Putting in is all or nothing: a
  // FirewallError leaves none of this call's jumps in. Taking out never throws (a jump that
  // cannot be deleted is logged, as on exit).
  void divert(Direction d, bool on);
  bool diverted(Direction d) const;

  // For a reload prepared on another thread while this object is in use (it only reads it):
  // direction `d`'s jumps that are not in, put in now as rules of their own (all or nothing:
  // throws FirewallError). adopt_jumps() makes them this object's; dropped, they go.
  std::vector<FirewallRule> prepare_jumps(Direction d) const;
  void adopt_jumps(Direction d, std::vector<FirewallRule> rules) noexcept;
  // Direction `d`'s jumps, taken out of this object for the caller to remove when it likes.
  std::vector<FirewallRule> release_jumps(Direction d) noexcept;
  // The rules in place now: chain rules and the jumps that are in.
  size_t rule_count() const;

 private:
  struct Jump {
    Iptables iptables;
    RuleSpec spec;
    Direction direction = Direction::outbound;
    std::optional<FirewallRule> rule;  // in place while set
  };
  // Declaration order is destruction order reversed: jumps go first.
  std::vector<FirewallChain> chains_;
  std::vector<Jump> jumps_;
  size_t chain_rules_ = 0;
};

// What this system can divert with, for the log: whether the kernel has nftables' native
// `queue` expression (probed with `nft -c`, which changes nothing), and the iptables variant.
struct FirewallMechanism {
  std::string iptables_version;  // "iptables v1.8.9 (nf_tables)"
  bool nft_compat = false;       // iptables speaks nf_tables (NFQUEUE through xt compat)
  enum class NativeQueue { unknown, present, absent } native_nft_queue = NativeQueue::unknown;

  std::string describe() const;
};

FirewallMechanism detect_firewall_mechanism();

}  // namespace badlink
