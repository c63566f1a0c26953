// Delay and jitter: delay + jitter * X, X drawn from the configured distribution, successive
// draws correlated through a Gaussian copula so that the marginal distribution stays exactly
// the configured one at any correlation (netem's get_crandom() blends uniforms and distorts it).
#pragma once

#include "core/rng.hh"
#include "core/time.hh"
#include "impairments/config.hh"

namespace badlink {

class DelayModel {
 public:
  explicit DelayModel(const DelayConfig& config);

  // The next packet's delay; never negative.
  Duration sample(Rng& rng);

  // X in delay + jitter * X: uniform on [-1, 1] (jitter is the half-width, as netem), normal,
  // pareto and paretonormal with mean 0 and standard deviation 1.
  static double standard_variate(DelayDistribution d, double z1, double z2);

  bool has_jitter() const { return jitter_ns_ > 0; }

  // Continues another model's correlation (a reload, a schedule's step).
  void inherit(const DelayModel& previous) {
    state1_ = previous.state1_;
    state2_ = previous.state2_;
    primed_ = previous.primed_;
  }

  // A delay the model's draws stay at or above: delay - jitter for uniform, delay - 0.577
  // jitter for pareto (its standard variate starts there), delay without jitter -- hard
  // bounds; for normal and paretonormal, whose draws have no lower bound, the delay of a
  // standard normal at -6 (one draw in 10^9 falls below). Never negative.
  static Duration floor(const DelayConfig& config);

 private:
  double correlated_normal(double& state, Rng& rng) const;

  DelayDistribution distribution_;
  double delay_ns_;
  double jitter_ns_;
  double rho_;
  double innovation_scale_;
  double state1_ = 0.0;
  double state2_ = 0.0;
  bool primed_ = false;
};

// The soonest a packet of a direction leaves after it arrived: the floor of its delay, 0 when
// reordering lets packets skip the delay (rate and queue limits only add to it).
Duration soonest_departure(const DirectionConfig& config);

}  // namespace badlink
