// Fuzz target: trace text through the two readers (the first byte picks Mahimahi's format or
// the CSV). What is refused must be a TraceError whose problems name lines of the text; what
// is accepted must hold the readers' promises (times in order, a period), and a delivery trace
// must serve a few packets at times that never go back and never precede their start.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hh"
#include "profile/trace.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace badlink;
  if (size == 0) {
    return 0;
  }
  const bool csv = (data[0] & 1) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto lines = static_cast<uint32_t>(std::count(text.begin(), text.end(), '\n') + 1);
  try {
    if (csv) {
      const ConfigTrace t = parse_config_trace(text, "fuzz.csv");
      fuzz::check(!t.rows.empty(), "an accepted CSV trace has a row");
      for (size_t i = 1; i < t.rows.size(); ++i) {
        fuzz::check(t.rows[i - 1].at < t.rows[i].at, "rows strictly in order of time");
        fuzz::check(t.rows[i - 1].line < t.rows[i].line, "rows in order of lines");
      }
      for (const TraceRow& r : t.rows) {
        fuzz::check(r.line >= 1 && r.line <= lines, "a row's line is in the text");
        fuzz::check(!r.loss || (*r.loss >= 0.0 && *r.loss <= 1.0), "loss is a probability");
        apply_row(DirectionConfig{}, r);
      }
    } else {
      const DeliveryTrace t = parse_delivery_trace(text, "fuzz.down", (data[0] & 2) != 0);
      fuzz::check(!t.ms.empty() && t.ms.back() > 0, "an accepted trace has a period");
      fuzz::check(std::is_sorted(t.ms.begin(), t.ms.end()), "times do not decrease");
      DeliverySchedule s;
      const TimePoint epoch = from_nanos(1'000'000'000);
      TimePoint begin = epoch;
      TimePoint last = epoch;
      for (int i = 0; i < 64; ++i) {
        const uint64_t bytes = 1 + static_cast<uint64_t>(i) * 97 % 3000;
        const std::optional<TimePoint> done = s.serve(t, epoch, bytes, begin, i % 3 != 0);
        if (!done) {
          fuzz::check(!t.loop, "only a trace that does not loop runs out");
          break;
        }
        fuzz::check(*done >= begin && *done >= last, "a departure never precedes its start");
        last = *done;
        begin = *done + std::chrono::microseconds(i % 3 == 0 ? 1500 * i : 0);
      }
    }
  } catch (const TraceError& e) {
    fuzz::check(!e.problems().empty(), "a TraceError lists at least one problem");
    for (const TraceProblem& p : e.problems()) {
      fuzz::check(p.line <= lines, "a problem's line is in the text");
      fuzz::check(!p.message.empty(), "a problem has text");
    }
  }
  return 0;
}
