// sched_setattr() and sched_getattr(): glibc 2.36 has no wrappers, so the raw system calls.
#include "sys/scheduling.hh"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "sys/system_error.hh"

namespace badlink {

namespace {

// include/uapi/linux/sched/types.h, as of its first version (48 bytes; SCHED_ATTR_SIZE_VER0).
struct SchedAttr {
  uint32_t size = sizeof(SchedAttr);
  uint32_t sched_policy = 0;
  uint64_t sched_flags = 0;
  int32_t sched_nice = 0;
  uint32_t sched_priority = 0;
  uint64_t sched_runtime = 0;  // SCHED_OTHER: the requested slice, in ns (Linux >= 6.12)
  uint64_t sched_deadline = 0;
  uint64_t sched_period = 0;
};
static_assert(sizeof(SchedAttr) == 48);

}  // namespace

void set_fair_scheduling(const FairScheduling& scheduling) {
  SchedAttr attr;
  attr.sched_policy = SCHED_OTHER;
  attr.sched_nice = scheduling.nice;
  attr.sched_runtime =
      scheduling.slice ? static_cast<uint64_t>(std::max<int64_t>(scheduling.slice->count(), 0)) : 0;
  const std::string what =
      "sched_setattr(SCHED_OTHER, nice " + std::to_string(scheduling.nice) +
      (scheduling.slice ? ", slice " + std::to_string(scheduling.slice->count()) + " ns" : "") +
      ")";
  SystemCall(what, ::syscall(SYS_sched_setattr, 0, &attr, 0U));
}

FairScheduling fair_scheduling() {
  SchedAttr attr;
  SystemCall("sched_getattr", ::syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0U));
  FairScheduling s;
  s.nice = attr.sched_nice;
  if (attr.sched_runtime != 0) {
    s.slice = Duration{static_cast<int64_t>(attr.sched_runtime)};
  }
  return s;
}

void set_fifo_scheduling(int priority) {
  sched_param param{};
  param.sched_priority = priority;
  if (::sched_setscheduler(0, SCHED_FIFO, &param) != 0) {
    throw SystemError("sched_setscheduler(SCHED_FIFO, priority " + std::to_string(priority) + ")",
                      errno);
  }
}

}  // namespace badlink
