// The bottleneck's clock: how long a link of a given rate takes to put bytes on the wire
// (dummynet's pipe bandwidth, Mahimahi's link), with the sub-nanosecond remainder carried so
// that long runs do not drift. The queue in front of it is engine/bottleneck's.
#pragma once

#include <cstdint>

#include "core/time.hh"

namespace badlink {

class Serialiser {
 public:
  explicit Serialiser(uint64_t bits_per_second = 0) : bits_per_second_(bits_per_second) {}

  // A new rate: from the next packet on (the carried remainder, in units of the old rate, is
  // dropped: at most a nanosecond).
  void set_rate(uint64_t bits_per_second) {
    if (bits_per_second != bits_per_second_) {
      bits_per_second_ = bits_per_second;
      remainder_ = 0;
    }
  }
  uint64_t rate() const { return bits_per_second_; }

  // bytes * 8e9 / rate nanoseconds; 0 without a rate.
  Duration time_for(uint64_t bytes);

 private:
  uint64_t bits_per_second_;
  uint64_t remainder_ = 0;  // in units of 1/bits_per_second ns
};

}  // namespace badlink
