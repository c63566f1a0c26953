// A file written under a temporary name beside its destination and renamed over it only when
// complete, so that a failed run never leaves a half-written file under the real name.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

namespace badlink {

class ReplacementFile {
 public:
  // Creates the temporary file (same directory, so the rename is atomic); throws
  // std::system_error naming the call when the directory is not writable.
  explicit ReplacementFile(std::filesystem::path destination)
      : destination_(std::move(destination)) {
    const std::string stem = "." + destination_.filename().string() + ".tmp-" +
                             std::to_string(::getpid()) + "-";
    for (unsigned attempt = 0;; ++attempt) {
      temporary_ = destination_.parent_path() / (stem + std::to_string(attempt));
      const int fd = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      if (errno != EEXIST || attempt >= 100) {
        throw std::system_error(errno, std::generic_category(),
                                "open(" + temporary_.string() + ")");
      }
    }
  }

  ~ReplacementFile() {
    if (!committed_) {
      ::unlink(temporary_.c_str());  // best effort: nothing to report from a destructor
    }
  }

  ReplacementFile(const ReplacementFile&) = delete;
  ReplacementFile& operator=(const ReplacementFile&) = delete;

  // Where to write; the caller closes its stream before commit().
  const std::filesystem::path& path() const { return temporary_; }
  const std::filesystem::path& destination() const { return destination_; }

  // Puts the finished file in place of the destination.
  void commit() {
    if (::rename(temporary_.c_str(), destination_.c_str()) != 0) {
      throw std::system_error(errno, std::generic_category(),
                              "rename(" + temporary_.string() + ", " + destination_.string() + ")");
    }
    committed_ = true;
  }

 private:
  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  bool committed_ = false;
};

}  // namespace badlink
