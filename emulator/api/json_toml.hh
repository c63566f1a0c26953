// JSON values written as TOML text, so that a JSON body goes through the very parser and
// checks a profile file goes through (profile/parse_profile).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace badlink::api {

// One value as TOML writes it after "key = ": strings, numbers and booleans as they are,
// arrays as arrays, objects as inline tables. Throws std::invalid_argument for null (TOML
// has none).
std::string toml_value(const nlohmann::json& value);

// A JSON object as a TOML document, one "key = value" line per member.
std::string toml_document(const nlohmann::json& object);

}  // namespace badlink::api
