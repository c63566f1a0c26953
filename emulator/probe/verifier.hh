// `badlink verify` from the testbed to the verdict: builds the testbed, checks its bare path,
// runs `badlink run` on the gateway with the profile, sends probe streams through it in each
// impaired direction and judges every figure against a tolerance derived from the sample.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "probe/verify_model.hh"
#include "probe/verify_result.hh"
#include "profile/profile.hh"
#include "sys/interrupt.hh"

namespace badlink::probe {

struct VerifyRequest {
  Profile expected;  // what the figures are judged against (one link)
  Profile run;       // what badlink run applies: `expected`, but for testing verify itself
  std::filesystem::path badlink;  // the executable whose `run` is verified
  std::optional<uint64_t> seed;   // badlink run's; nullopt: drawn at random
  double duration_s = 30;         // measuring time
  HostAllowance allowance;
};

// Told each step as it starts ("measuring delay ...\n"), to show the user.
using Progress = std::function<void(const std::string& text)>;

// How `duration_s` of measuring is shared out: half for delay, a third for loss, a tenth (two
// seconds at least) for throughput.
PlanBudget plan_budget(double duration_s);

// The profile badlink run is given: `run` without its match (the testbed's probes are all the
// traffic there is), as TOML.
std::string run_profile_text(const Profile& run);

// Everything between parsing and printing. Needs root. Throws Interrupted when `interrupt`
// fires, std::runtime_error when the testbed cannot be built, its bare path is not clean or
// badlink run does not start; the testbed is removed on every way out.
VerifyResult verify(const VerifyRequest& request, Interrupt& interrupt, const Progress& progress);

}  // namespace badlink::probe
