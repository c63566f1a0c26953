// Loss models; see loss.hh.
#include "impairments/loss.hh"

#include <limits>

namespace badlink {

LossModel::LossModel(const LossConfig& config) : config_(config) {
  if (std::holds_alternative<BernoulliLoss>(config)) {
    kind_ = Kind::bernoulli;
  } else if (std::holds_alternative<GilbertElliottLoss>(config)) {
    kind_ = Kind::gilbert_elliott;
  } else if (std::holds_alternative<MarkovLoss>(config)) {
    kind_ = Kind::markov;
  }
}

// gilbert_elliott - Gilbert-Elliott burst loss.
// E. N. Gilbert, "Capacity of a burst-noise channel" (1960); E. O. Elliott (1963).
// Good --p--> Bad, Bad --r--> Good; a packet survives with probability k in Good, h in Bad.
static bool gilbert_elliott(const GilbertElliottLoss& c, uint8_t& state, Rng& rng) {
  if (state == 1) {
    if (rng.chance(c.p)) {
      state = 2;
    }
  } else if (rng.chance(c.r)) {
    state = 1;
  }
  const double survive = state == 1 ? c.k : c.h;
  return !rng.chance(survive);
}

// markov_4state - netem's 4-state loss model.
// S. Salsano, F. Ludovici, A. Ordine, "Definition of a general and intuitive loss model for
// packet networks and its implementation in the Netem module in the Linux kernel" (2009).
// States: 1 received in gap, 2 received in burst, 3 lost in burst, 4 isolated loss.
static bool markov_4state(const MarkovLoss& c, uint8_t& state, Rng& rng) {
  const double u = rng.uniform();
  switch (state) {
    case 1:
      if (u < c.p13) {
        state = 3;
      } else if (u < c.p13 + c.p14) {
        state = 4;
      }
      break;
    case 2:
      if (u < c.p23) {
        state = 3;
      }
      break;
    case 3:
      if (u < c.p31) {
        state = 1;
      } else if (u < c.p31 + c.p32) {
        state = 2;
      }
      break;
    default:  // 4: an isolated loss is always followed by a received packet in the gap
      state = 1;
      break;
  }
  return state == 3 || state == 4;
}

bool LossModel::lose(Rng& rng) {
  switch (kind_) {
    case Kind::none:
      return false;
    case Kind::bernoulli:
      return rng.chance(std::get<BernoulliLoss>(config_).p);
    case Kind::gilbert_elliott:
      return gilbert_elliott(std::get<GilbertElliottLoss>(config_), state_, rng);
    case Kind::markov:
      return markov_4state(std::get<MarkovLoss>(config_), state_, rng);
  }
  return false;
}

namespace {
struct MarkovStationary {
  double pi1, pi2, pi3, pi4;
};

MarkovStationary markov_stationary(const MarkovLoss& c) {
  // Balance: pi4 = p14 pi1; pi3 p31 = p13 pi1 (flow between gap and burst);
  //          pi2 p23 = pi3 p32.
  const double pi1 = 1.0;
  const double pi4 = c.p14 * pi1;
  const double pi3 = c.p31 > 0 ? c.p13 * pi1 / c.p31 : (c.p13 > 0 ? 1e300 : 0.0);
  const double pi2 = c.p23 > 0 ? pi3 * c.p32 / c.p23 : (c.p32 > 0 ? 1e300 : 0.0);
  const double total = pi1 + pi2 + pi3 + pi4;
  return {pi1 / total, pi2 / total, pi3 / total, pi4 / total};
}
}  // namespace

double LossModel::stationary_loss(const LossConfig& config) {
  if (const auto* b = std::get_if<BernoulliLoss>(&config)) {
    return b->p;
  }
  if (const auto* g = std::get_if<GilbertElliottLoss>(&config)) {
    const double pi_bad = (g->p + g->r) > 0 ? g->p / (g->p + g->r) : 0.0;
    return (1.0 - pi_bad) * (1.0 - g->k) + pi_bad * (1.0 - g->h);
  }
  if (const auto* m = std::get_if<MarkovLoss>(&config)) {
    const auto s = markov_stationary(*m);
    return s.pi3 + s.pi4;
  }
  return 0.0;
}

double LossModel::mean_burst_length(const LossConfig& config) {
  if (const auto* b = std::get_if<BernoulliLoss>(&config)) {
    return b->p < 1.0 ? 1.0 / (1.0 - b->p) : std::numeric_limits<double>::infinity();
  }
  if (const auto* g = std::get_if<GilbertElliottLoss>(&config)) {
    const double pi_bad = (g->p + g->r) > 0 ? g->p / (g->p + g->r) : 0.0;
    const double lost_good = (1.0 - pi_bad) * (1.0 - g->k);
    const double lost_bad = pi_bad * (1.0 - g->h);
    const double lost = lost_good + lost_bad;
    if (lost <= 0) {
      return 0.0;
    }
    // From a state s, next packet lost with: good -> (1-p)(1-k) + p(1-h); bad -> r(1-k) +
    // (1-r)(1-h).
    const double next_lost_from_good = (1 - g->p) * (1 - g->k) + g->p * (1 - g->h);
    const double next_lost_from_bad = g->r * (1 - g->k) + (1 - g->r) * (1 - g->h);
    const double continue_p =
        (lost_good * next_lost_from_good + lost_bad * next_lost_from_bad) / lost;
    // Mean run = P(lost) / P(lost after a received one) = 1 / (1 - P(lost | previous lost));
    // exact, since the pair's joint law depends only on the state of the first (1/r for h=0, k=1).
    return continue_p < 1.0 ? 1.0 / (1.0 - continue_p) : std::numeric_limits<double>::infinity();
  }
  if (const auto* m = std::get_if<MarkovLoss>(&config)) {
    const auto s = markov_stationary(*m);
    // Bursts start by entering state 3 from 1 or 2, or state 4 from 1 (4 never continues).
    const double starts = s.pi1 * (m->p13 + m->p14) + s.pi2 * m->p23;
    return starts > 0 ? (s.pi3 + s.pi4) / starts : 0.0;
  }
  return 0.0;
}

}  // namespace badlink
