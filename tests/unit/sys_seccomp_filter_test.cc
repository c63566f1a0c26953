// The seccomp allow-list, loaded in a forked child (a filter cannot be removed, and the test
// process must not keep it): a call outside the list is refused, one in it still works, and
// every thread gets it. Needs no root: the filter sets no_new_privs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <thread>

#include "sys/seccomp_filter.hh"

namespace badlink {
namespace {

// Runs `body` in a forked child that loads the filter first; the child's exit status is what
// `body` returns (1..: the check that failed), or it dies by a signal. _exit: no atexit
// handler (a sanitizer's leak check) runs under the filter.
template <class Body>
int in_filtered_child(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    try {
      const SeccompFilter filter;
      filter.load();
    } catch (...) {
      ::_exit(100);
    }
    ::_exit(body());
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

// "Seccomp:" in a /proc status file: 0 none, 2 a filter.
int seccomp_mode(const std::string& status_file) {
  std::ifstream in(status_file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("Seccomp:")) {
      return std::stoi(line.substr(8));
    }
  }
  return -1;
}

TEST(SeccompFilter, HasAListOfEachKind) {
  const SeccompFilter filter;
  EXPECT_GT(filter.allowed_count(), 50U);
  EXPECT_GT(filter.killing_count(), 20U);
  EXPECT_EQ(seccomp_mode("/proc/self/status"), 0);  // built, not loaded
}

TEST(SeccompFilter, AnUnlistedCallFailsWithEpermAndListedOnesWork) {
  const int status = in_filtered_child([] {
    if (::getpid() <= 0 || ::syscall(SYS_gettid) <= 0) {
      return 1;
    }
    // chdir is nothing badlink calls after set-up
    errno = 0;
    if (::chdir("/") != -1 || errno != EPERM) {
      return 2;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0 || ::write(fds[1], "x", 1) != 1) {
      return 3;
    }
    char c = 0;
    if (::read(fds[0], &c, 1) != 1 || c != 'x') {
      return 4;
    }
    return seccomp_mode("/proc/self/status") == 2 ? 0 : 5;
  });
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SeccompFilter, SocketsAndNamespacesAreLimited) {
  const int status = in_filtered_child([] {
    errno = 0;
    if (::socket(AF_PACKET, SOCK_DGRAM, 0) != -1 || errno != EPERM) {
      return 1;
    }
    const int udp = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (udp < 0) {
      return 2;
    }
    ::close(udp);
    // clone3 answers ENOSYS (glibc then uses clone, whose flags the filter checks): a thread
    // still starts, and so does a child process.
    bool ran = false;
    std::thread([&ran] { ran = true; }).join();
    if (!ran) {
      return 3;
    }
    const pid_t child = ::fork();
    if (child == 0) {
      ::_exit(7);
    }
    int child_status = 0;
    if (child < 0 || ::waitpid(child, &child_status, 0) != child || !WIFEXITED(child_status) ||
        WEXITSTATUS(child_status) != 7) {
      return 4;
    }
    errno = 0;
    if (::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, 0) != -1 ||
        errno != EPERM) {
      return 5;
    }
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SeccompFilter, PtraceKillsTheProcess) {
  const int status = in_filtered_child([] {
    ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    return 1;  // not reached
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST(SeccompFilter, ThreadsStartedBeforeTheLoadGetItToo) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    // A thread that exists before the load (as the wake calibrator's does) and reports its
    // own mode after it.
    int fds[2];
    if (::pipe(fds) != 0) {
      ::_exit(10);
    }
    std::thread helper([&fds] {
      char go = 0;
      if (::read(fds[0], &go, 1) != 1) {
        ::_exit(11);
      }
      const std::string mine =
          "/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/status";
      ::_exit(seccomp_mode(mine) == 2 ? 0 : 12);
    });
    try {
      const SeccompFilter filter;
      filter.load();
    } catch (...) {
      ::_exit(13);
    }
    if (::write(fds[1], "g", 1) != 1) {
      ::_exit(14);
    }
    helper.join();  // the helper exits the process first
    ::_exit(15);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace badlink
