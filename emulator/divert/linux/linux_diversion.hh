// The Linux diversion: a pair of NFQUEUE queues per link (NfqueueBackend), the iptables rules
// that send each link's traffic to them (Firewall), and host mode's outbound arrival stamps
// (OutputStamps), configured as one.
#pragma once

#include <array>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "divert/diversion.hh"
#include "divert/linux/firewall.hh"
#include "divert/linux/firewall_rules.hh"
#include "divert/linux/nfqueue_backend.hh"
#include "divert/linux/output_stamps.hh"

namespace badlink {

struct LinuxDiversionOptions {
  DiversionMode mode = DiversionMode::host;
  std::string wan;     // gateway mode's WAN interface
  bool rules = true;   // false: the user's rules queue the packets (--no-rules)
  uint16_t queue = 4200;  // the first queue: link slot s has queue + 2s (outbound) and + 2s + 1
  bool queue_given = false;  // else, when taken, the next free block is tried
  bool dump = false;  // every packet goes through the loop, even an unimpaired direction's
  uint32_t mark = 0;  // SO_MARK of what badlink sends itself; its rules skip it
  uint64_t max_pps = 100000;  // sizes the kernel queues
};

class LinuxDiversion final : public Diversion {
 public:
  // Binds the queues of every link of `plan` and installs its rules (unless options.rules is
  // false). Throws SystemError, FirewallError or std::runtime_error (a queue taken); nothing
  // is left behind then.
  LinuxDiversion(const LinuxDiversionOptions& options, const DiversionPlan& plan);
  ~LinuxDiversion() override;

  DivertBackend& backend() override { return *backend_; }
  std::unique_ptr<DiversionChange> prepare(const DiversionPlan& plan) override;
  void commit(std::unique_ptr<DiversionChange> change) noexcept override;
  void stop() noexcept override;
  DirectionTraits traits(Direction d) const override;
  DiversionReport report() const override;

 private:
  struct Rules {
    std::vector<LinkRules> links;  // in match order
    std::array<bool, kDirections> diverted{};
    int generation = 0;
    std::unique_ptr<Firewall> v4;
    std::unique_ptr<Firewall> v6;

    // The same chains and rules (which directions are diverted aside).
    bool same_links(const Rules& other) const;
  };
  class Change;

  Rules plan_rules_for(const DiversionPlan& plan, int generation) const;
  void install(Rules& rules) const;  // throws; what it made goes with `rules`
  // The stamps for what `plan` queues at OUTPUT with `diverted` through `rules`' families;
  // none where they cannot select exactly that.
  std::optional<StampLayout> stamp_layout_for(const DiversionPlan& plan,
                                              const std::array<bool, kDirections>& diverted,
                                              const Rules& rules) const;
  void want_stamps(const DiversionPlan& plan) noexcept;
  void drop_stamps() noexcept;
  void configure_links(const DiversionPlan& plan) noexcept;
  uint32_t queue_length_for(const DiversionPlan& plan) const;
  std::unique_ptr<NfqueueBackend> open_backend(size_t links, uint32_t max_length);
  // Removes what a commit took out of use (iptables runs) on a thread of its own, so that the
  // loop does not wait for it; stop() waits for every such removal.
  template <class Retired>
  void retire(Retired retired) noexcept;

  LinuxDiversionOptions options_;
  uint16_t base_ = 0;  // the first queue bound
  size_t slots_ = 0;   // links with queues
  int owner_pid_ = 0;
  std::unique_ptr<NfqueueBackend> backend_;
  Rules rules_;  // gone before the backend: no packet is queued to an unbound queue
  std::optional<OutputStamps> stamps_;  // after the rules, gone before them
  std::vector<std::future<void>> retiring_;  // removals under way (retire)
  DiversionPlan plan_;
};

}  // namespace badlink
