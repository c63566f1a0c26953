// LinuxDiversion: queues, rules and stamps for a profile's links; see linux_diversion.hh.
#include "divert/linux/linux_diversion.hh"

#include <net/if.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <cerrno>
#include <fstream>
#include <stdexcept>

#include "divert/linux/kernel_queue_stats.hh"
#include "sys/system_error.hh"

namespace badlink {

namespace {

constexpr int kQueueAttempts = 8;  // default queue blocks tried when one is taken
constexpr uint32_t kMinQueueLength = 1024;
constexpr uint32_t kMaxQueueLength = 262144;

uint16_t outbound_queue(uint16_t base, size_t slot) {
  return static_cast<uint16_t>(base + 2 * slot);  // NOLINT: checked against 65535 at start
}

// The match host mode's outbound stamps must select: exactly what the rules queue at OUTPUT.
// Only where it is one [match]: one link, or a link that takes every packet (its interface
// shared by all); and only where every link's outbound packets are copied and resent (a
// stamped packet accepted as it is would carry the stamp as its mark).
std::optional<Match> stamp_match(const DiversionPlan& plan) {
  for (const DivertedLink& l : plan.links) {
    if (l.configs[index_of(Direction::outbound)].is_passthrough()) {
      return std::nullopt;
    }
  }
  if (plan.links.size() == 1) {
    return plan.links.front().match;
  }
  const std::string& interface = plan.links.front().match.interface;
  for (const DivertedLink& l : plan.links) {
    if (l.match.interface != interface) {
      return std::nullopt;
    }
  }
  for (const DivertedLink& l : plan.links) {
    Match all;
    all.interface = interface;
    if (l.match == all) {
      return all;
    }
  }
  return std::nullopt;
}

}  // namespace

bool LinuxDiversion::Rules::same_links(const Rules& other) const {
  if (links.size() != other.links.size()) {
    return false;
  }
  for (size_t i = 0; i < links.size(); ++i) {
    if (!(links[i].match == other.links[i].match) ||
        links[i].outbound_queue != other.links[i].outbound_queue ||
        links[i].inbound_queue != other.links[i].inbound_queue) {
      return false;
    }
  }
  return true;
}

// A prepared plan: the next generation's rules, in place beside the running ones (removed with
// this object unless committed).
class LinuxDiversion::Change final : public DiversionChange {
 public:
  DiversionPlan plan;
  std::optional<Rules> rules;  // set when the chains change: the next generation, whole
  // Else: jumps to put in for directions diverted from now on, per family (v4, v6).
  std::array<std::array<std::vector<FirewallRule>, kDirections>, 2> jumps_in;
  std::array<bool, kDirections> diverted{};
};

template <class Retired>
void LinuxDiversion::retire(Retired retired) noexcept {
  // Finished removals first: their futures have nothing left to wait for.
  std::erase_if(retiring_, [](const std::future<void>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  });
  try {
    auto owned = std::make_shared<Retired>(std::move(retired));
    retiring_.push_back(std::async(std::launch::async, [owned]() mutable { owned.reset(); }));
  } catch (const std::exception& e) {
    // No thread (or no memory): `retired` (or its copy) goes here and now.
    spdlog::debug("removing retired rules in the loop: {}", e.what());
  }
}

LinuxDiversion::LinuxDiversion(const LinuxDiversionOptions& options, const DiversionPlan& plan)
    : options_(options), owner_pid_(static_cast<int>(::getpid())) {
  slots_ = 0;
  for (const DivertedLink& l : plan.links) {
    slots_ = std::max<size_t>(slots_, size_t{l.slot} + 1);
  }
  backend_ = open_backend(slots_, queue_length_for(plan));
  if (options_.rules) {
    spdlog::info("firewall: {}", detect_firewall_mechanism().describe());
    rules_ = plan_rules_for(plan, 0);
    install(rules_);
  } else {
    spdlog::info(
        "--no-rules: reading your rules' NFQUEUE {} and {}{}, each packet's direction from "
        "where they caught it; they must skip mark {:#x}",
        base_, base_ + 1,
        slots_ > 1 ? fmt::format(" (link {}; link n: {} + 2n and the next)",
                                 plan.links.front().name, base_)
                   : std::string(),
        options_.mark);
  }
  want_stamps(plan);
  configure_links(plan);
  plan_ = plan;
  if (options_.mode == DiversionMode::gateway) {
    std::ifstream forward("/proc/sys/net/ipv4/ip_forward");
    char on = '1';
    if (forward >> on && on == '0') {
      spdlog::warn("IPv4 forwarding is off (net.ipv4.ip_forward = 0): nothing will be forwarded");
    }
  }
}

LinuxDiversion::~LinuxDiversion() { stop(); }


uint32_t LinuxDiversion::queue_length_for(const DiversionPlan& plan) const {
  // Packets the kernel may have to hold per queue: the longest delay (its jitter counted four
  // times over) at the highest rate expected, plus the bottleneck queue.
  double longest = 0.0;
  uint64_t backlog = 0;
  for (const DivertedLink& l : plan.links) {
    for (const DirectionConfig& c : l.configs) {
      longest = std::max(longest,
                         static_cast<double>((c.delay.delay + 4 * c.delay.jitter).count()) / 1e9);
      backlog = std::max<uint64_t>(backlog, c.queue.packets == 0 ? 10000 : c.queue.packets);
    }
  }
  const double wanted = static_cast<double>(options_.max_pps) * longest +
                        static_cast<double>(backlog) + kMinQueueLength;
  return static_cast<uint32_t>(
      std::clamp(wanted, double{kMinQueueLength}, double{kMaxQueueLength}));
}

std::unique_ptr<NfqueueBackend> LinuxDiversion::open_backend(size_t links, uint32_t length) {
  for (int attempt = 0;; ++attempt) {
    const auto block = static_cast<uint32_t>(2 * links);
    const uint32_t base = options_.queue + block * static_cast<uint32_t>(attempt);
    const uint32_t last = base + block - 1;
    NfqueueOptions o;
    // Each packet's direction is its own (where it was caught); badlink's rules put each
    // direction on a queue of its own, so the loop may leave one unwatched. The user's may put
    // either anywhere.
    constexpr std::array<bool, kDirections> kOutbound{true, false};
    constexpr std::array<bool, kDirections> kInbound{false, true};
    constexpr std::array<bool, kDirections> kEither{true, true};
    std::vector<uint16_t> numbers;
    for (size_t s = 0; s < links && last <= 65535; ++s) {
      const auto out = static_cast<uint16_t>(base + 2 * s);
      o.queues.push_back(
          QueueBinding{out, options_.rules ? kOutbound : kEither, static_cast<uint16_t>(s)});
      o.queues.push_back(QueueBinding{static_cast<uint16_t>(out + 1),
                                      options_.rules ? kInbound : kEither,
                                      static_cast<uint16_t>(s)});
      numbers.push_back(out);
      numbers.push_back(static_cast<uint16_t>(out + 1));
    }
    if (last > 65535) {
      throw std::runtime_error("no free NFQUEUE numbers from " + std::to_string(options_.queue) +
                               " for " + std::to_string(links) + " links; choose --queue");
    }
    o.wan_ifindex =
        options_.mode == DiversionMode::gateway ? ::if_nametoindex(options_.wan.c_str()) : 0;
    o.max_length = length;
    o.reinject_mark = options_.mark;
    try {
      auto backend = std::make_unique<NfqueueBackend>(o);
      base_ = static_cast<uint16_t>(base);
      spdlog::info("NFQUEUE {} to {} ({} per link{}), up to {} packets held each", base, last, 2,
                   options_.rules ? ": outbound, inbound" : "", length);
      return backend;
    } catch (const SystemError& e) {
      // Another socket's queue answers EPERM (EBUSY on some kernels); tell that apart from a
      // real permission problem by whether the kernel lists the queue as bound.
      const bool taken = e.error() == EBUSY || e.error() == EEXIST ||
                         (e.error() == EPERM && !read_kernel_queue_stats(numbers).empty());
      if (!taken) {
        throw;
      }
      if (options_.queue_given || attempt + 1 >= kQueueAttempts) {
        throw std::runtime_error("NFQUEUE " + std::to_string(base) + " to " +
                                 std::to_string(last) +
                                 " is bound by another program (another badlink?); choose other "
                                 "queues with --queue");
      }
      spdlog::debug("NFQUEUE {} to {} is taken; trying the next block", base, last);
    }
  }
}

LinuxDiversion::Rules LinuxDiversion::plan_rules_for(const DiversionPlan& plan,
                                                     int generation) const {
  Rules r;
  r.generation = generation;
  for (const DivertedLink& l : plan.links) {
    const uint16_t out = outbound_queue(base_, l.slot);
    r.links.push_back(LinkRules{l.match, out, static_cast<uint16_t>(out + 1)});
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      // A direction no link changes is not queued at all (its jump is left out), so its
      // packets pass at the kernel's own cost -- unless --dump shows them.
      r.diverted[index_of(d)] = r.diverted[index_of(d)] ||
                                !l.configs[index_of(d)].is_passthrough() || options_.dump;
    }
  }
  return r;
}

void LinuxDiversion::install(Rules& r) const {
  FirewallLayout layout;
  layout.mode = options_.mode;
  layout.wan = options_.wan;
  layout.skip_mark = options_.mark;
  layout.owner_pid = owner_pid_;
  layout.generation = r.generation;
  const FamilyRules v4 = plan_rules(r.links, layout, IpFamily::ipv4);
  const FamilyRules v6 = plan_rules(r.links, layout, IpFamily::ipv6);
  bool v6_asked = false;
  for (const LinkRules& l : r.links) {
    v6_asked = v6_asked || std::any_of(l.match.hosts.begin(), l.match.hosts.end(),
                                       [](const Cidr& c) { return c.family == 6; });
  }
  for (const FamilyRules* f : {&v4, &v6}) {
    for (const RuleSpec& rule : f->chain_rules) {
      spdlog::debug("rule: {}", describe(rule, f->family));
    }
    for (const RuleSpec& rule : f->jumps) {
      spdlog::debug("rule: {}", describe(rule, f->family, "-I"));
    }
  }
  if (!v4.empty()) {
    r.v4 = std::make_unique<Firewall>(std::vector<FamilyRules>{v4}, r.diverted);
  }
  if (!v6.empty()) {
    try {
      r.v6 = std::make_unique<Firewall>(std::vector<FamilyRules>{v6}, r.diverted);
    } catch (const FirewallError& e) {
      if (v6_asked) {
        throw;
      }
      spdlog::warn("IPv6 packets are not diverted: {}", e.what());
    }
  }
  const size_t count = (r.v4 ? r.v4->rule_count() : 0) + (r.v6 ? r.v6->rule_count() : 0);
  spdlog::info("{} mode: {} rules for {} link{} in chains {} and {} ({}{}{})",
               options_.mode == DiversionMode::host ? "host" : "gateway", count, r.links.size(),
               r.links.size() == 1 ? "" : "s",
               chain_name(owner_pid_, Direction::outbound, r.generation),
               chain_name(owner_pid_, Direction::inbound, r.generation), r.v4 ? "IPv4" : "",
               r.v4 && r.v6 ? " and " : "", r.v6 ? "IPv6" : "");
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    if (!r.diverted[index_of(d)]) {
      spdlog::info("{} changes nothing: not diverted (a reload that impairs it diverts it)",
                   to_string(d));
    }
  }
}

std::optional<StampLayout> LinuxDiversion::stamp_layout_for(
    const DiversionPlan& plan, const std::array<bool, kDirections>& diverted,
    const Rules& rules) const {
  if (!options_.rules || options_.mode != DiversionMode::host ||
      !diverted[index_of(Direction::outbound)]) {
    return std::nullopt;
  }
  const std::optional<Match> match = stamp_match(plan);
  if (!match) {
    return std::nullopt;
  }
  StampLayout stamp;
  stamp.table = "badlink-" + std::to_string(owner_pid_);
  stamp.interface = match->interface;
  stamp.skip_mark = options_.mark;
  if (rules.v4) {
    stamp.ipv4 = match_terms(*match, IpFamily::ipv4);
  }
  if (rules.v6) {
    stamp.ipv6 = match_terms(*match, IpFamily::ipv6);
  }
  return stamp;
}

void LinuxDiversion::want_stamps(const DiversionPlan& plan) noexcept {
  if (stamps_) {
    return;
  }
  const std::optional<StampLayout> stamp = stamp_layout_for(plan, rules_.diverted, rules_);
  if (!stamp) {
    if (options_.rules && options_.mode == DiversionMode::host &&
        rules_.diverted[index_of(Direction::outbound)]) {
      spdlog::info(
          "outbound packets are timed when read: no one [match] selects exactly what the links "
          "queue at OUTPUT for the kernel to stamp");
    }
    return;
  }
  try {
    stamps_.emplace(*stamp);
    spdlog::info(
        "outbound arrival stamps: nf_tables table inet {} ({} rules) writes the kernel's time "
        "into the mark of each packet the rules queue at OUTPUT",
        stamps_->table(), stamps_->rules());
    backend_->set_output_stamps(true);
  } catch (const std::exception& e) {
    spdlog::warn("outbound packets are timed when read (no kernel arrival stamp): {}", e.what());
    stamps_.reset();
  }
}

void LinuxDiversion::drop_stamps() noexcept {
  // Gone before the rules they follow: a packet stamped must be one the rules queue.
  backend_->set_output_stamps(false);
  stamps_.reset();
}

void LinuxDiversion::configure_links(const DiversionPlan& plan) noexcept {
  std::vector<bool> planned(slots_, false);
  for (const DivertedLink& l : plan.links) {
    planned[l.slot] = true;
    std::array<DirectionAdmission, kDirections> admission{};
    std::array<bool, kDirections> cut{};
    for (const Direction d : {Direction::outbound, Direction::inbound}) {
      const DirectionConfig& c = l.configs[index_of(d)];
      DirectionAdmission& a = admission[index_of(d)];
      a.passthrough = c.is_passthrough();
      a.bypass = c.is_passthrough() && !options_.dump;  // --dump shows every packet
      a.headers_only = c.delays_only();
      // Only the headers cross to badlink where no packet is sent again from its bytes: a
      // direction passed as read, or one that only delays packets the kernel holds (not what
      // this host sends: that is copied and resent; not with rules of the user's own).
      const bool held = options_.rules &&
                        (options_.mode == DiversionMode::gateway || d == Direction::inbound);
      cut[index_of(d)] = c.is_passthrough() || (held && c.delays_only());
    }
    backend_->set_link(l.slot, admission, cut);
  }
  // A link a reload took away keeps its queues (packets of it may still be held); whatever
  // still comes through them goes on as read.
  for (size_t s = 0; s < slots_; ++s) {
    if (!planned[s]) {
      DirectionAdmission pass;
      pass.passthrough = true;
      pass.bypass = true;
      backend_->set_link(static_cast<uint16_t>(s), {pass, pass}, {true, true});
    }
  }
  const uint32_t wanted = queue_length_for(plan);
  if (wanted != backend_->max_length()) {
    try {
      backend_->set_max_length(wanted);
      spdlog::info("up to {} packets held per queue", wanted);
    } catch (const SystemError& e) {
      spdlog::warn("the queue length stays {}: {}", backend_->max_length(), e.what());
    }
  }
}

std::unique_ptr<DiversionChange> LinuxDiversion::prepare(const DiversionPlan& plan) {
  for (const DivertedLink& l : plan.links) {
    if (l.slot >= slots_) {
      throw std::runtime_error("link '" + l.name +
                               "' is new, and a link's queues are bound at start: restart "
                               "badlink to add a link");
    }
    if (options_.mode == DiversionMode::gateway && !l.match.interface.empty() &&
        l.match.interface != options_.wan) {
      throw std::runtime_error("link '" + l.name + "': [match] interface '" + l.match.interface +
                               "' is not --wan '" + options_.wan + "'");
    }
  }
  auto change = std::make_unique<Change>();
  change->plan = plan;
  if (!options_.rules) {
    return change;
  }
  // Runs beside the loop (Runtime prepares on a thread of its own): it reads the running
  // rules and changes nothing of them.
  Rules next = plan_rules_for(plan, rules_.generation + 1);
  change->diverted = next.diverted;
  if (!next.same_links(rules_)) {
    // Built beside the running rules, jumps in on top of theirs: from here the new rules
    // classify. The running ones go at commit, or these with the change if it is dropped.
    install(next);
    change->rules = std::move(next);
    return change;
  }
  // The same rules: only the jumps of directions diverted from now on go in (those no longer
  // wanted go at commit). A failure takes out those this call put in.
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    if (next.diverted[index_of(d)] && !rules_.diverted[index_of(d)]) {
      const std::array<const Firewall*, 2> families{rules_.v4.get(), rules_.v6.get()};
      for (size_t f = 0; f < families.size(); ++f) {
        if (families[f] != nullptr) {
          change->jumps_in[f][index_of(d)] = families[f]->prepare_jumps(d);
        }
      }
    }
  }
  return change;
}

void LinuxDiversion::commit(std::unique_ptr<DiversionChange> prepared) noexcept {
  auto* change = dynamic_cast<Change*>(prepared.get());
  if (change == nullptr) {
    return;
  }
  if (options_.rules) {
    // Stamps that select what the next rules queue stay: taking them out and in again holds
    // the loop while nf_tables commits twice, and packets due meanwhile leave late.
    if (stamps_ && stamps_->layout() != stamp_layout_for(change->plan, change->diverted,
                                                         change->rules ? *change->rules : rules_)) {
      drop_stamps();  // before the rules they follow: a packet stamped must be one they queue
    }
    if (change->rules) {
      Rules old = std::move(rules_);
      rules_ = std::move(*change->rules);
      retire(std::move(old));
    } else {
      const std::array<Firewall*, 2> families{rules_.v4.get(), rules_.v6.get()};
      for (const Direction d : {Direction::outbound, Direction::inbound}) {
        for (size_t f = 0; f < families.size(); ++f) {
          if (families[f] == nullptr) {
            continue;
          }
          if (change->diverted[index_of(d)]) {
            families[f]->adopt_jumps(d, std::move(change->jumps_in[f][index_of(d)]));
          } else {
            retire(families[f]->release_jumps(d));
          }
        }
      }
      rules_.diverted = change->diverted;
    }
  }
  want_stamps(change->plan);
  configure_links(change->plan);
  plan_ = std::move(change->plan);
}

void LinuxDiversion::stop() noexcept {
  drop_stamps();
  rules_.v6.reset();
  rules_.v4.reset();
  for (std::future<void>& f : retiring_) {
    f.wait();
  }
  retiring_.clear();
}

DirectionTraits LinuxDiversion::traits(Direction d) const {
  DirectionTraits t;
  t.diverted = !options_.rules || rules_.diverted[index_of(d)];
  // Forwarded and received packets are stamped by the kernel; what this host sends is stamped
  // while OutputStamps are in. Not with the user's own rules: they may queue anything.
  t.kernel_stamped = options_.rules && (d == Direction::inbound ||
                                        options_.mode == DiversionMode::gateway ||
                                        stamps_.has_value());
  t.local_receiver = options_.mode == DiversionMode::host && d == Direction::inbound;
  return t;
}

DiversionReport LinuxDiversion::report() const {
  DiversionReport r;
  r.mode = options_.mode == DiversionMode::host ? "host" : "gateway";
  r.wan = options_.wan;
  r.rules = options_.rules;
  std::vector<uint16_t> numbers;
  for (size_t s = 0; s < slots_; ++s) {
    const uint16_t out = outbound_queue(base_, s);
    r.ports.push_back(DivertPort{out, static_cast<uint16_t>(s),
                                 {true, !options_.rules}});
    r.ports.push_back(DivertPort{static_cast<uint16_t>(out + 1), static_cast<uint16_t>(s),
                                 {!options_.rules, true}});
    numbers.push_back(out);
    numbers.push_back(static_cast<uint16_t>(out + 1));
  }
  r.rule_count = (rules_.v4 ? rules_.v4->rule_count() : 0) +
                 (rules_.v6 ? rules_.v6->rule_count() : 0);
  for (const Direction d : {Direction::outbound, Direction::inbound}) {
    r.diverting[index_of(d)] = traits(d).diverted;
  }
  for (const KernelQueueStats& k : read_kernel_queue_stats(numbers)) {
    r.kernel_queue_dropped += k.queue_dropped;
    r.kernel_user_dropped += k.user_dropped;
    r.kernel.push_back(DiversionReport::Queue{k.queue, k.queue_total, k.queue_dropped,
                                              k.user_dropped, k.id_sequence});
  }
  r.send_path = &backend_->injector().send_path_samples();
  return r;
}

}  // namespace badlink
