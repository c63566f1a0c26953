// The bottleneck's clock; see rate.hh.
#include "impairments/rate.hh"

#include "core/rng.hh"

namespace badlink {

Duration Serialiser::time_for(uint64_t bytes) {
  if (bits_per_second_ == 0) {
    return Duration{0};
  }
  const uint128 numerator = static_cast<uint128>(bytes) * 8U * 1'000'000'000U + remainder_;
  remainder_ = static_cast<uint64_t>(numerator % bits_per_second_);
  return Duration{static_cast<int64_t>(numerator / bits_per_second_)};
}

}  // namespace badlink
