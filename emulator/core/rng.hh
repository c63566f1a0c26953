// The engine's only source of randomness: xoshiro256++ seeded through splitmix64, so the same
// seed gives the same decisions on every platform (std:: distributions are not portable).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace badlink {

// GCC/Clang's 128-bit integer, for exact products of two 64-bit values.
__extension__ typedef unsigned __int128 uint128;

constexpr uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }

  void reseed(uint64_t seed) {
    uint64_t sm = seed;
    for (auto& word : s_) {
      word = splitmix64(sm);
    }
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[0] + s_[3], 23) + s_[0];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform in (0, 1): safe for logarithms and inverse CDFs.
  double uniform_open() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }

  // True with probability p; p <= 0 never draws true, p >= 1 always does.
  bool chance(double p) { return uniform() < p; }

  // Uniform integer in [0, n) without modulo bias worth measuring (Lemire's multiply-shift).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<uint128>(next()) * n) >> 64);
  }

  // Standard normal by Box-Muller; the second value is kept for the next call.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = uniform_open();
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * M_PI * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  static constexpr uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4]{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// Seeds for the two directions are derived from the one profile seed, so each direction has
// its own generator and adding traffic in one direction never changes the other's decisions.
constexpr uint64_t direction_seed(uint64_t seed, unsigned direction) {
  uint64_t state = seed ^ (0xd1b54a32d192ed03ULL * (direction + 1));
  return splitmix64(state);
}

// The seed of a profile's link `index` (its place in the file, from 0): the first link uses
// the profile seed itself, so a one-link profile draws as it did before links; each later link
// gets its own, and a link's draws never depend on another link's traffic.
constexpr uint64_t link_seed(uint64_t seed, std::size_t index) {
  if (index == 0) {
    return seed;
  }
  uint64_t state = seed ^ (0x9e6c63d0676a9a99ULL * index);
  return splitmix64(state);
}

}  // namespace badlink
