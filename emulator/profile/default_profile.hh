// The built-in default profile (a typical 4G/LTE link): profiles/lte.toml, embedded in the
// binary so `badlink run` and the demo work without a profile file.
#pragma once

#include <string_view>

#include "profile/profile.hh"

namespace badlink {

inline constexpr std::string_view kDefaultProfileSource = "builtin:lte";

std::string_view default_profile_text();

// The built-in profile, parsed (it is checked by a unit test, so this does not throw).
inline Profile default_profile() {
  return parse_profile(default_profile_text(), kDefaultProfileSource);
}

}  // namespace badlink
