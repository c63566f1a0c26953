// Delay distributions; see delay.hh.
#include "impairments/delay.hh"

#include <algorithm>
#include <cmath>

namespace badlink {

namespace {
constexpr double kParetoAlpha = 3.0;  // netem's pareto table uses alpha = 3
// Pareto(xm = 1, alpha = 3): mean 1.5, standard deviation sqrt(0.75).
constexpr double kParetoMean = kParetoAlpha / (kParetoAlpha - 1.0);
const double kParetoSd =
    std::sqrt(kParetoAlpha / ((kParetoAlpha - 1.0) * (kParetoAlpha - 1.0) * (kParetoAlpha - 2.0)));
// paretonormal = 0.25 normal + 0.75 pareto (iproute2's paretonormal table), rescaled to sd 1.
const double kParetoNormalSd = std::sqrt(0.25 * 0.25 + 0.75 * 0.75);

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double standard_pareto_from_normal(double z) {
  // Upper tail via erfc keeps precision where the heavy tail lives.
  const double tail = std::clamp(0.5 * std::erfc(z / std::sqrt(2.0)), 1e-300, 1.0);
  return (std::pow(tail, -1.0 / kParetoAlpha) - kParetoMean) / kParetoSd;
}
}  // namespace

DelayModel::DelayModel(const DelayConfig& config)
    : distribution_(config.distribution),
      delay_ns_(static_cast<double>(config.delay.count())),
      jitter_ns_(static_cast<double>(config.jitter.count())),
      rho_(std::clamp(config.correlation, 0.0, 1.0)),
      innovation_scale_(std::sqrt(1.0 - rho_ * rho_)) {}

double DelayModel::standard_variate(DelayDistribution d, double z1, double z2) {
  switch (d) {
    case DelayDistribution::uniform:
      return 2.0 * normal_cdf(z1) - 1.0;
    case DelayDistribution::normal:
      return z1;
    case DelayDistribution::pareto:
      return standard_pareto_from_normal(z1);
    case DelayDistribution::paretonormal:
      return (0.25 * z2 + 0.75 * standard_pareto_from_normal(z1)) / kParetoNormalSd;
  }
  return 0.0;
}

Duration DelayModel::floor(const DelayConfig& config) {
  const double delay = static_cast<double>(config.delay.count());
  const double jitter = static_cast<double>(config.jitter.count());
  if (jitter <= 0) {
    return config.delay;
  }
  constexpr double kNormalFloor = -6.0;
  // The pareto part's smallest value is at its scale xm = 1; the normal part at -6.
  const double pareto_min = (1.0 - kParetoMean) / kParetoSd;
  double lowest = 0.0;
  switch (config.distribution) {
    case DelayDistribution::uniform:
      lowest = -1.0;
      break;
    case DelayDistribution::normal:
      lowest = kNormalFloor;
      break;
    case DelayDistribution::pareto:
      lowest = pareto_min;
      break;
    case DelayDistribution::paretonormal:
      lowest = (0.25 * kNormalFloor + 0.75 * pareto_min) / kParetoNormalSd;
      break;
  }
  return Duration{static_cast<int64_t>(std::max(0.0, std::floor(delay + jitter * lowest)))};
}

// AR(1) in the normal domain: z' = rho z + sqrt(1 - rho^2) e keeps z standard normal, and the
// copula then maps it onto the configured distribution without changing that distribution.
double DelayModel::correlated_normal(double& state, Rng& rng) const {
  state = rho_ * state + innovation_scale_ * rng.normal();
  return state;
}

Duration DelayModel::sample(Rng& rng) {
  if (jitter_ns_ <= 0) {
    return Duration{static_cast<int64_t>(delay_ns_)};
  }
  if (rho_ == 0.0) {
    // Independent draws: sample the distribution directly, no copula needed.
    double x = 0.0;
    switch (distribution_) {
      case DelayDistribution::uniform:
        x = 2.0 * rng.uniform() - 1.0;
        break;
      case DelayDistribution::normal:
        x = rng.normal();
        break;
      case DelayDistribution::pareto:
        x = (std::pow(rng.uniform_open(), -1.0 / kParetoAlpha) - kParetoMean) / kParetoSd;
        break;
      case DelayDistribution::paretonormal:
        x = (0.25 * rng.normal() +
             0.75 * (std::pow(rng.uniform_open(), -1.0 / kParetoAlpha) - kParetoMean) / kParetoSd) /
            kParetoNormalSd;
        break;
    }
    return Duration{static_cast<int64_t>(std::llround(std::max(0.0, delay_ns_ + jitter_ns_ * x)))};
  }
  if (!primed_) {
    // Start the chains in their stationary law, not at 0 (which would bias the first draws).
    state1_ = rng.normal();
    state2_ = rng.normal();
    primed_ = true;
  } else {
    correlated_normal(state1_, rng);
    if (distribution_ == DelayDistribution::paretonormal) {
      correlated_normal(state2_, rng);
    }
  }
  const double x = standard_variate(distribution_, state1_, state2_);
  const double ns = std::max(0.0, delay_ns_ + jitter_ns_ * x);
  return Duration{static_cast<int64_t>(std::llround(ns))};
}

Duration soonest_departure(const DirectionConfig& config) {
  return config.reorder > 0.0 ? Duration{0} : DelayModel::floor(config.delay);
}

}  // namespace badlink
