// How many heap allocations (operator new) the process made, where a build counts them: the
// benchmark build `badlink_counting` links tests/bench/counting_new.cc, which defines the
// counter; everywhere else it is absent and allocation_count() says so.
#pragma once

#include <cstdint>
#include <optional>

extern "C" uint64_t badlink_allocation_count() __attribute__((weak));

namespace badlink {

inline std::optional<uint64_t> allocation_count() {
  if (badlink_allocation_count == nullptr) {
    return std::nullopt;
  }
  return badlink_allocation_count();
}

}  // namespace badlink
