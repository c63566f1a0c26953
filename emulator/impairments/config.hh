// The validated, plain configuration of one direction's impairments. The profile layer fills
// it from TOML; the engine reads it. Every field here has already passed validation.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <variant>

#include "core/packet.hh"
#include "core/same_contents.hh"
#include "core/time.hh"
#include "impairments/delivery_trace.hh"

namespace badlink {

enum class DelayDistribution : uint8_t { uniform, normal, pareto, paretonormal };

struct DelayConfig {
  Duration delay{0};
  Duration jitter{0};
  DelayDistribution distribution = DelayDistribution::uniform;  // netem's default
  double correlation = 0.0;  // 0..1, of successive delays (AR(1) through a Gaussian copula)
  bool keep_order = true;    // a packet never leaves before the one ahead of it

  friend bool operator==(const DelayConfig&, const DelayConfig&) = default;
};

// Independent loss with probability p.
struct BernoulliLoss {
  double p = 0.0;

  friend bool operator==(const BernoulliLoss&, const BernoulliLoss&) = default;
};

// Gilbert-Elliott: p = P(good -> bad), r = P(bad -> good); h and k are the probabilities that
// a packet SURVIVES in the bad and the good state (classic definition; tc takes 1-h and 1-k).
struct GilbertElliottLoss {
  double p = 0.0;
  double r = 1.0;
  double h = 0.0;
  double k = 1.0;

  friend bool operator==(const GilbertElliottLoss&, const GilbertElliottLoss&) = default;
};

// netem's 4-state Markov model (Salsano et al., "Definition of a general and intuitive loss
// model for packet networks"): 1 = received in a gap, 2 = received in a burst, 3 = lost in a
// burst, 4 = isolated loss. Defaults are tc's: p31 = 1 - p13, p32 = 0, p23 = 1, p14 = 0.
struct MarkovLoss {
  double p13 = 0.0;
  double p31 = 1.0;
  double p32 = 0.0;
  double p23 = 1.0;
  double p14 = 0.0;

  friend bool operator==(const MarkovLoss&, const MarkovLoss&) = default;
};

using LossConfig = std::variant<std::monostate, BernoulliLoss, GilbertElliottLoss, MarkovLoss>;

struct RateConfig {
  uint64_t bits_per_second = 0;  // 0: no rate limit
  // Or a packet-delivery trace serves the link (bits_per_second is then 0). Shared: a trace
  // may be long, and every schedule step's config holds it.
  std::shared_ptr<const DeliveryTrace> trace;

  bool limited() const { return bits_per_second > 0 || trace != nullptr; }

  friend bool operator==(const RateConfig& a, const RateConfig& b) {
    return a.bits_per_second == b.bits_per_second && same_contents(a.trace, b.trace);
  }
};

// The bottleneck queue in front of the rate limiter (tail drop). 0 means "no limit of that kind".
struct QueueLimit {
  uint64_t packets = 1000;  // tc's default limit
  uint64_t bytes = 0;

  friend bool operator==(const QueueLimit&, const QueueLimit&) = default;
};

// netem's slot: packets leave only when a slot opens, min..max (uniform) after the first one
// ready finds none open, at most `packets` and `bytes` of them per slot (0: no limit) -- the
// bursts of Wi-Fi and LTE aggregation.
struct SlotConfig {
  Duration min{0};
  Duration max{0};
  uint64_t packets = 0;
  uint64_t bytes = 0;

  bool enabled() const { return max.count() > 0; }

  friend bool operator==(const SlotConfig&, const SlotConfig&) = default;
};

struct DirectionConfig {
  DelayConfig delay;
  LossConfig loss;
  double duplicate = 0.0;
  double reorder = 0.0;      // probability a packet skips the delay (netem semantics)
  uint32_t reorder_gap = 0;  // > 0: only every gap-th packet may be reordered
  double corrupt = 0.0;
  RateConfig rate;
  QueueLimit queue;
  SlotConfig slot;

  // True when the direction changes nothing, so the datapath may pass packets straight on.
  // Every packet goes on whole and unchanged, only later: no byte beyond the headers is
  // looked at, and no GSO super-packet needs cutting.
  bool delays_only() const {
    return delay.jitter.count() == 0 && std::holds_alternative<std::monostate>(loss) &&
           duplicate == 0.0 && reorder == 0.0 && corrupt == 0.0 && !rate.limited() &&
           !slot.enabled();
  }

  bool is_passthrough() const {
    return delay.delay.count() == 0 && delay.jitter.count() == 0 &&
           std::holds_alternative<std::monostate>(loss) && duplicate == 0.0 && reorder == 0.0 &&
           corrupt == 0.0 && !rate.limited() && !slot.enabled();
  }

  friend bool operator==(const DirectionConfig&, const DirectionConfig&) = default;
};

// A link that is down: its packets are dropped while it lasts, or held in the bottleneck
// queue (subject to its limit) and released in order at its end, as in a handover.
enum class Outage : uint8_t { none, drop, hold };

// A link's two directions, indexed by index_of(Direction).
using DirectionConfigs = std::array<DirectionConfig, kDirections>;

// Longest delay a profile may ask for; the timing wheel covers far more than this.
inline constexpr Duration kMaxDelay = std::chrono::hours(1);

}  // namespace badlink
