// SignalFd over sigprocmask + signalfd.
#include "sys/signal_fd.hh"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

#include "sys/system_error.hh"

namespace badlink {

namespace {

sigset_t make_set(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (const int s : signals) {
    sigaddset(&set, s);
  }
  return set;
}

}  // namespace

SignalFd::SignalFd(std::initializer_list<int> signals) {
  const sigset_t set = make_set(signals);
  const int rv = ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rv != 0) {
    throw SystemError("pthread_sigmask(SIG_BLOCK)", rv);
  }
  fd_ = FileDescriptor(SystemCall("signalfd", ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)));
}

std::optional<int> SignalFd::read() {
  signalfd_siginfo info{};
  const ssize_t n = retry_eintr([&] { return ::read(fd_.fd(), &info, sizeof info); });
  if (n < 0) {
    if (errno == EAGAIN) {
      return std::nullopt;
    }
    throw SystemError("read(signalfd)", errno);
  }
  return static_cast<int>(info.ssi_signo);
}

}  // namespace badlink
