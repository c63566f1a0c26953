// Fuzz target: profile text through parse_profile(); what it accepts must render to text that
// parses again and renders the same (render_profile's promise), and what it refuses must be a
// ProfileError (anything else escaping is a crash).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hh"
#include "profile/profile.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace badlink;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Profile profile;
  try {
    profile = parse_profile(text, "fuzz.toml");
  } catch (const ProfileError& e) {
    fuzz::check(!e.diagnostics().empty(), "a ProfileError lists at least one problem");
    for (const Diagnostic& d : e.diagnostics()) {
      fuzz::check(!d.to_string().empty(), "a diagnostic has text");
    }
    return 0;
  }
  const std::string rendered = render_profile(profile);
  std::string again;
  try {
    again = render_profile(parse_profile(rendered, "rendered.toml"));
  } catch (const ProfileError& e) {
    std::fprintf(stderr, "rendered profile refused:\n%s\n--\n%s\n", rendered.c_str(), e.what());
    fuzz::check(false, "render_profile() prints what parse_profile() accepts");
  }
  if (again != rendered) {
    std::fprintf(stderr, "first render:\n%s\n--\nsecond render:\n%s\n", rendered.c_str(),
                 again.c_str());
  }
  fuzz::check(again == rendered, "a rendered profile renders the same after parsing");
  return 0;
}
