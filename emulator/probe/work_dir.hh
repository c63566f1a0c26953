// A private directory under the temporary directory (badlink-verify-XXXXXX) for the files of
// one verify, removed with its contents when destroyed.
#pragma once

#include <filesystem>
#include <string>

namespace badlink::probe {

class WorkDir {
 public:
  // Throws SystemError when mkdtemp fails.
  WorkDir();
  ~WorkDir();
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;

  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace badlink::probe
