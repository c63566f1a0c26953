// Loss models: Bernoulli, Gilbert-Elliott and netem's 4-state Markov chain. Each keeps its own
// state; the decision for a packet is made in the state the chain moves to for that packet,
// as netem's loss_gilb_ell() and loss_4state() do.
#pragma once

#include <cstdint>

#include "core/rng.hh"
#include "impairments/config.hh"

namespace badlink {

class LossModel {
 public:
  explicit LossModel(const LossConfig& config);

  // True when this packet is lost; advances the model's state.
  bool lose(Rng& rng);

  bool enabled() const { return kind_ != Kind::none; }

  // Continues another model's chain (a reload, a schedule's step): the state carries over
  // where the kind of model is the same.
  void inherit(const LossModel& previous) {
    if (previous.kind_ == kind_) {
      state_ = previous.state_;
    }
  }

  // Long-run fraction of packets lost and mean length of a run of consecutive losses, from the
  // chain's stationary distribution (what a long sample must reproduce).
  static double stationary_loss(const LossConfig& config);
  static double mean_burst_length(const LossConfig& config);

 private:
  enum class Kind : uint8_t { none, bernoulli, gilbert_elliott, markov };

  Kind kind_ = Kind::none;
  LossConfig config_;
  uint8_t state_ = 1;  // GE: 1 good, 2 bad; Markov: 1..4 as in the paper
};

}  // namespace badlink
