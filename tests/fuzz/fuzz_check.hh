// The fuzz targets' oracle: a property that does not hold is a crash libFuzzer saves the
// input for, in the fuzzing build and in the corpus runner of the normal build alike.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace badlink::fuzz {

inline void check(bool holds, const char* property) {
  if (!holds) {
    std::fprintf(stderr, "fuzz property violated: %s\n", property);
    std::abort();
  }
}

}  // namespace badlink::fuzz
