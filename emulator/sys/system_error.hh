// Kernel calls that fail become exceptions naming the attempted call; EINTR is retried here and
// nowhere else.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace badlink {

// A failed system call: errno plus what was being attempted ("bind(nfqueue 4200)").
class SystemError : public std::system_error {
 public:
  SystemError(std::string_view attempt, int error);
  int error() const { return code().value(); }
  const std::string& attempt() const { return attempt_; }

 private:
  std::string attempt_;
};

// Throws SystemError(attempt, errno) when `rv` is negative; returns `rv` otherwise.
template <class T>
T SystemCall(std::string_view attempt, T rv) {
  static_assert(std::is_integral_v<T>, "SystemCall checks integer return values");
  if (rv < 0) {
    throw SystemError(attempt, errno);
  }
  return rv;
}

// The one place EINTR is retried: calls `call` until it does not fail with EINTR and returns
// its result (errno intact for the caller to inspect).
template <class Call>
auto retry_eintr(Call&& call) {
  for (;;) {
    const auto rv = call();
    if (!(rv < 0 && errno == EINTR)) {
      return rv;
    }
  }
}

// retry_eintr() then SystemCall(): the usual shape of a set-up call.
template <class Call>
auto checked_call(std::string_view attempt, Call&& call) {
  return SystemCall(attempt, retry_eintr(std::forward<Call>(call)));
}

}  // namespace badlink
