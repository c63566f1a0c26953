// FileDescriptor: close() once, log a failure.
#include "sys/file_descriptor.hh"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace badlink {

FileDescriptor::~FileDescriptor() { close(); }

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.release();
  }
  return *this;
}

void FileDescriptor::close() noexcept {
  if (fd_ < 0) {
    return;
  }
  // Not retried on EINTR: on Linux the descriptor is released even then.
  if (::close(fd_) != 0) {
    spdlog::warn("close({}): {}", fd_, std::strerror(errno));
  }
  fd_ = -1;
}

}  // namespace badlink
