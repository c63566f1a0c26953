// SeccompFilter: the system calls `badlink run` may make once set-up is done (the packet loop,
// its helper thread, and the iptables it runs for reloads and at exit), loaded on every
// thread of the process; anything else fails with EPERM, and what only an intruder would call
// kills the process.
#pragma once

#include <cstddef>
#include <memory>

namespace badlink {

class SeccompFilter {
 public:
  // Builds the filter without loading it; throws SystemError.
  SeccompFilter();
  ~SeccompFilter();
  SeccompFilter(const SeccompFilter&) = delete;
  SeccompFilter& operator=(const SeccompFilter&) = delete;

  // Loads the filter on every thread of the calling process at once (SECCOMP_FILTER_FLAG_TSYNC)
  // and sets no_new_privs, which it needs without CAP_SYS_ADMIN. It cannot be removed: threads
  // and processes started later inherit it, and so does a program they execute. Throws
  // SystemError (ESRCH: a thread already has another filter).
  void load() const;

  // System calls the filter lets through, some only with the arguments it checks (socket's
  // domain, ioctl's request); those it kills the process for; the rest fail with EPERM.
  size_t allowed_count() const;
  size_t killing_count() const;

 private:
  struct Context;
  std::unique_ptr<Context> context_;
  size_t allowed_ = 0;
  size_t killing_ = 0;
};

}  // namespace badlink
