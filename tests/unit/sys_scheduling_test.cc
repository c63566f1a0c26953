// The packet loop's scheduler settings, set on a thread of its own (a raised nice value cannot
// be lowered again without CAP_SYS_NICE, and the test process must not keep it).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

#include "sys/scheduling.hh"
#include "sys/capabilities.hh"
#include "sys/system_error.hh"

namespace badlink {
namespace {

template <class Body>
void on_own_thread(Body body) {
  std::thread t(body);
  t.join();
}

TEST(Scheduling, NiceAndSliceAreSetAndReadBack) {
  on_own_thread([] {
    const FairScheduling before = fair_scheduling();
    EXPECT_EQ(before.nice, ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid))));
    // A higher nice value needs no privilege.
    const int nice = std::min(before.nice + 3, 19);
    set_fair_scheduling({nice, std::chrono::microseconds(200)});
    const FairScheduling after = fair_scheduling();
    EXPECT_EQ(after.nice, nice);
    EXPECT_EQ(::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid))), nice);
    // Kernels with EEVDF custom slices (6.12+) report every fair task's slice; older ones none.
    if (before.slice) {
      ASSERT_TRUE(after.slice);
      EXPECT_EQ(*after.slice, std::chrono::microseconds(200));
    }
  });
}

TEST(Scheduling, ARefusedNiceNamesTheCall) {
  on_own_thread([] {
    // Capabilities belong to the thread: this one gives up CAP_SYS_NICE (root's too).
    keep_only_capabilities({});
    try {
      set_fair_scheduling({-20, std::nullopt});
      FAIL() << "nice -20 was granted without privilege";
    } catch (const SystemError& e) {
      EXPECT_EQ(e.error(), EPERM);
      EXPECT_NE(std::string(e.what()).find("sched_setattr(SCHED_OTHER, nice -20)"),
                std::string::npos)
          << e.what();
    }
  });
}

}  // namespace
}  // namespace badlink
