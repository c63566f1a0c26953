// Interrupt over a signalfd and poll().
#include "sys/interrupt.hh"

#include <poll.h>
#include <signal.h>
#include <string.h>

#include <optional>
#include <string>

namespace badlink {

Interrupted::Interrupted(int signal)
    : std::runtime_error(std::string("interrupted by ") + ::strsignal(signal)), signal_(signal) {}

Interrupt::Interrupt() : signals_({SIGINT, SIGTERM, SIGHUP}) {}

void Interrupt::wait(std::chrono::milliseconds timeout) {
  // A failed or interrupted poll only shortens the wait: check() looks all the same.
  pollfd p{signals_.fd(), POLLIN, 0};
  (void)::poll(&p, 1, static_cast<int>(timeout.count()));
  check();
}

void Interrupt::check() {
  if (const std::optional<int> s = signals_.read()) {
    throw Interrupted(*s);
  }
}

}  // namespace badlink
