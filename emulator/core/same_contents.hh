// Whether two shared, immutable objects hold the same value: the same object, or equal ones
// (a reload reads a trace file again into a new object).
#pragma once

#include <memory>

namespace badlink {

template <class T>
bool same_contents(const std::shared_ptr<const T>& a, const std::shared_ptr<const T>& b) {
  return a == b || (a && b && *a == *b);
}

}  // namespace badlink
