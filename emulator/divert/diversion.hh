// What the live runtime asks of a platform's divert mechanism for a profile's links: queues
// that hand their packets over (a DivertBackend) and rules that send each link's packets to
// them. Changed the way a reload must change it: prepare() does everything that can fail beside
// what runs, commit() swaps and cannot fail. NFQUEUE and iptables are one implementation
// (divert/linux/); tests use a fake that fails where they say.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/latency_histogram.hh"
#include "divert/divert.hh"
#include "impairments/config.hh"
#include "profile/profile.hh"

namespace badlink {

// One link as the diversion sees it.
struct DivertedLink {
  std::string name;
  uint16_t slot = 0;  // the engine's index of the link, carried in DivertAddress::link
  Match match;
  DirectionConfigs configs{};
};

// The links in match order: a packet goes to the first whose match takes it.
struct DiversionPlan {
  std::vector<DivertedLink> links;
};

// What the runtime's loop may rely on for the packets of one direction.
struct DirectionTraits {
  bool diverted = false;         // the rules take its packets now
  bool kernel_stamped = false;   // every packet of it carries the kernel's arrival stamp
  bool local_receiver = false;   // its packets go to an application on this host
};

// A queue (divert port) and the link it carries.
struct DivertPort {
  uint16_t queue = 0;
  uint16_t slot = 0;
  std::array<bool, kDirections> carries{true, true};
};

// What a diversion reports beside the backend's counters.
struct DiversionReport {
  std::string mode;  // "host", "gateway"
  std::string wan;
  bool rules = true;  // badlink's own rules (false: the user's)
  std::vector<DivertPort> ports;
  size_t rule_count = 0;
  std::array<bool, kDirections> diverting{};
  uint64_t kernel_queue_dropped = 0;  // the kernel's counters, all queues summed
  uint64_t kernel_user_dropped = 0;
  struct Queue {
    uint16_t queue = 0;
    uint64_t total = 0;
    uint64_t queue_dropped = 0;
    uint64_t user_dropped = 0;
    uint64_t id_sequence = 0;
  };
  std::vector<Queue> kernel;
  const LatencyHistogram* send_path = nullptr;  // the sampled resend path, if there is one
};

// A prepared change: whatever it made that commit() would keep, removed if it is dropped.
class DiversionChange {
 public:
  virtual ~DiversionChange() = default;
};

class Diversion {
 public:
  virtual ~Diversion() = default;

  virtual DivertBackend& backend() = 0;

  // Everything the plan needs that can fail -- rules for changed matches built beside the
  // running ones, and their jumps put in -- without changing what the running links get.
  // Throws (the message says why); what it made is removed again. A plan that adds a link
  // the diversion has no queue for is refused here.
  virtual std::unique_ptr<DiversionChange> prepare(const DiversionPlan& plan) = 0;

  // Makes the prepared plan the running one: what each link's directions want of the
  // backend, the old rules out. Cannot fail (what is best effort is logged).
  virtual void commit(std::unique_ptr<DiversionChange> change) noexcept = 0;

  // The orderly end's first step: every rule out, so that no new packet comes.
  virtual void stop() noexcept = 0;

  virtual DirectionTraits traits(Direction d) const = 0;
  virtual DiversionReport report() const = 0;
};

}  // namespace badlink
