// `badlink verify`'s results as JSON (nlohmann).
#include "probe/verify_result.hh"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

namespace badlink::probe {

namespace {

// Six significant digits, as the text report's precision suggests; NaN and infinities stay NaN,
// which nlohmann prints as null.
double figure_number(double v) {
  if (!std::isfinite(v)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return std::strtod(fmt::format("{:.6g}", v).c_str(), nullptr);
}

nlohmann::ordered_json figure_json(const Figure& f) {
  nlohmann::ordered_json j;
  j["name"] = f.name;
  j["unit"] = f.unit;
  j["configured"] = figure_number(f.configured);
  j["measured"] = figure_number(f.measured);
  j["low"] = figure_number(f.low);
  j["high"] = figure_number(f.high);
  j["measurable"] = f.measurable;
  j["ok"] = f.ok();
  j["note"] = f.note;
  return j;
}

nlohmann::ordered_json direction_json(const DirectionResult& d) {
  nlohmann::ordered_json j;
  j["sparse"] = {{"sent", d.sparse.sent},
                 {"spacing_ms", figure_number(d.sparse.spacing_ms)},
                 {"received", d.sparse.received}};
  j["dense"] = {{"sent", d.dense.sent},
                {"pps", figure_number(d.dense.pps)},
                {"received", d.dense.received},
                {"early", d.dense.early},
                {"late", d.dense.late}};
  j["rate"] = {{"sent", d.rate.sent},
               {"payload", d.rate.payload},
               {"achieved_pps", figure_number(d.rate.achieved_pps)},
               {"received", d.rate.received}};
  j["base_delay_ms"] = {{"p50", figure_number(d.base_p50_ms)},
                        {"p99", figure_number(d.base_p99_ms)}};
  nlohmann::ordered_json& figures = j["figures"] = nlohmann::ordered_json::array();
  for (const Figure& f : d.figures) {
    figures.push_back(figure_json(f));
  }
  return j;
}

}  // namespace

nlohmann::ordered_json verify_json(const VerifyResult& result) {
  nlohmann::ordered_json j;
  j["profile"] = result.profile;
  j["source"] = result.source;
  j["seed"] = result.seed;
  j["ok"] = result.ok;
  nlohmann::ordered_json& directions = j["directions"] = nlohmann::ordered_json::object();
  for (const DirectionResult& d : result.directions) {
    directions[std::string(to_string(d.direction))] = direction_json(d);
  }
  return j;
}

}  // namespace badlink::probe
