// How badlink prints JSON; see json_text.hh.
#include "io/json_text.hh"

#include <cmath>
#include <nlohmann/json.hpp>

namespace badlink {

std::string json_text(const nlohmann::ordered_json& value) {
  std::string text = value.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  text += '\n';
  return text;
}

double json_micros(Duration value) { return static_cast<double>(value.count()) / 1e3; }

double json_seconds(double value) { return std::round(value * 1e3) / 1e3; }

}  // namespace badlink
