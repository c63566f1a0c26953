// JSON values as TOML text; see json_toml.hh.
#include "api/json_toml.hh"

#include <stdexcept>

namespace badlink::api {

std::string toml_value(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      throw std::invalid_argument("null is not a value here");
    case nlohmann::json::value_t::object: {
      if (value.empty()) {
        return "{}";
      }
      std::string out = "{ ";
      bool first = true;
      for (const auto& [key, member] : value.items()) {
        out += (first ? "" : ", ") + nlohmann::json(key).dump() + " = " + toml_value(member);
        first = false;
      }
      return out + " }";
    }
    case nlohmann::json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < value.size(); ++i) {
        out += (i == 0 ? "" : ", ") + toml_value(value[i]);
      }
      return out + "]";
    }
    default:
      // A JSON string's escapes (\" \\ \n \uXXXX ...) are TOML's too; numbers and booleans
      // are spelt alike.
      return value.dump();
  }
}

std::string toml_document(const nlohmann::json& object) {
  if (!object.is_object()) {
    throw std::invalid_argument("expected a JSON object");
  }
  std::string out;
  for (const auto& [key, member] : object.items()) {
    out += nlohmann::json(key).dump() + " = " + toml_value(member) + "\n";
  }
  return out;
}

}  // namespace badlink::api
