// What `badlink verify` measured and judged, as plain data, and its --json form.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/packet.hh"
#include "probe/verify_model.hh"

namespace badlink::probe {

struct DirectionResult {
  Direction direction = Direction::outbound;
  struct {
    uint64_t sent = 0;
    double spacing_ms = 0.0;
    uint64_t received = 0;  // intact packets, copies counted once
  } sparse;
  struct {
    uint64_t sent = 0;
    double pps = 0.0;
    uint64_t received = 0;
    uint64_t early = 0;
    uint64_t late = 0;
  } dense;
  struct {
    uint64_t sent = 0;
    uint32_t payload = 0;
    double achieved_pps = 0.0;
    uint64_t received = 0;  // datagrams
    // Not in the JSON: whether it was sent (the profile has a rate), first to last send.
    bool measured = false;
    double elapsed_s = 0.0;
  } rate;
  double base_p50_ms = 0.0;  // the testbed's own path, without badlink
  double base_p99_ms = 0.0;
  std::vector<Figure> figures;
};

struct VerifyResult {
  std::string profile;
  std::string source;
  uint64_t seed = 0;
  bool ok = false;  // every figure within tolerance, and badlink run exited cleanly
  std::vector<DirectionResult> directions;  // the impaired ones
  // How badlink run ended: its exit status, nullopt when it had to be killed; and, when that
  // was not a clean exit, the end of its log, each line after "\n  " (not in the JSON).
  std::optional<int> run_status = 0;
  std::string run_log_tail;

  bool run_clean() const { return run_status && *run_status == 0; }
};

// { profile, source, seed, ok, directions: { outbound / inbound: { sparse: { sent, spacing_ms,
//   received }, dense: { sent, pps, received, early, late }, rate: { sent, payload,
//   achieved_pps, received }, base_delay_ms: { p50, p99 }, figures: [ { name, unit, configured,
//   measured, low, high, measurable, ok, note } ] } } }
// Measured figures keep six significant digits; one that is not a number (nothing arrived)
// is null.
nlohmann::ordered_json verify_json(const VerifyResult& result);

}  // namespace badlink::probe
