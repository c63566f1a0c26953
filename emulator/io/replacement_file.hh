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
  //
  // A destination that exists and is not a regular file (/dev/null, /dev/stdout, a FIFO) is
  // written in place: renaming over it would replace the device or pipe with a plain file. A
  // symbolic link is followed, so the link stays and its target is replaced.
  explicit ReplacementFile(std::filesystem::path destination)
      : destination_(std::move(destination)) {
    std::error_code error;
    for (int hops = 0; hops < 40 && std::filesystem::is_symlink(destination_, error); ++hops) {
      const std::filesystem::path target = std::filesystem::read_symlink(destination_, error);
      if (error) {
        break;
      }
      destination_ = target.is_absolute() ? target : destination_.parent_path() / target;
    }
    const auto status = std::filesystem::status(destination_, error);
    if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
      temporary_ = destination_;
      in_place_ = true;
      return;
    }
    const std::string stem =
        "." + destination_.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-";
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
    if (!committed_ && !in_place_) {
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
    if (!in_place_ && ::rename(temporary_.c_str(), destination_.c_str()) != 0) {
      throw std::system_error(errno, std::generic_category(),
                              "rename(" + temporary_.string() + ", " + destination_.string() + ")");
    }
    committed_ = true;
  }

 private:
  std::filesystem::path destination_;
  std::filesystem::path temporary_;
  bool committed_ = false;
  bool in_place_ = false;
};

}  // namespace badlink
