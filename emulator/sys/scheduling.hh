// The packet loop's place in the scheduler. A departure is due at a microsecond; when the
// timer fires, the loop must run at once, not after whatever else holds the CPU. Two ways:
// a fair-scheduler (SCHED_OTHER) thread that asks for a high weight (nice) and a short slice,
// and SCHED_FIFO (--realtime), which no fair task delays at all.
#pragma once

#include <optional>

#include "core/time.hh"

namespace badlink {

// The calling thread's fair-scheduler settings.
struct FairScheduling {
  int nice = 0;                   // -20 (highest weight) .. 19
  std::optional<Duration> slice;  // the slice it asks for (Linux >= 6.12); nullopt: the default
};

// Sets the calling thread's nice value and slice request (sched_setattr, SCHED_OTHER). A
// thread asking for a slice shorter than the running task's preempts it when it wakes (the
// EEVDF scheduler's custom slices; the kernel clamps the request to 0.1..100 ms, and kernels
// before 6.12 ignore it). Threads created afterwards inherit both. Throws SystemError; a
// negative nice needs CAP_SYS_NICE (EPERM without).
void set_fair_scheduling(const FairScheduling& scheduling);

// The calling thread's current settings (sched_getattr); `slice` is nullopt where the kernel
// reports none (no custom slice, or a kernel without them).
FairScheduling fair_scheduling();

// SCHED_FIFO at `priority` (1..99) for the calling thread; throws SystemError (EPERM without
// CAP_SYS_NICE).
void set_fifo_scheduling(int priority);

}  // namespace badlink
