// WorkDir over mkdtemp and std::filesystem::remove_all.
#include "probe/work_dir.hh"

#include <stdlib.h>

#include <cerrno>
#include <system_error>

#include "sys/system_error.hh"

namespace badlink::probe {

WorkDir::WorkDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "badlink-verify-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw SystemError("mkdtemp(" + pattern + ")", errno);
  }
  path_ = pattern;
}

WorkDir::~WorkDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace badlink::probe
