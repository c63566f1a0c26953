// A profile's direction keys changed through toml++ on its rendered text; see profile_edit.hh.
#include "profile/profile_edit.hh"

#include <toml++/toml.h>

#include <sstream>

namespace badlink {

namespace {

ProfileError edit_error(std::string_view source, std::string message) {
  return ProfileError({Diagnostic{std::string(source), 0, 0, std::move(message)}});
}

// The table of `link`'s direction in a rendered profile, made when the profile has none.
toml::table& direction_table(toml::table& doc, const DirectionKey& k) {
  const std::string name(to_string(k.direction));
  toml::table* link = nullptr;
  if (toml::array* links = doc["link"].as_array()) {
    for (toml::node& n : *links) {
      toml::table* t = n.as_table();
      if (t != nullptr && (*t)["name"].value<std::string>() == k.link) {
        link = t;
      }
    }
  } else if (k.link == kDefaultLinkName) {
    link = &doc;  // the classic form: [outbound] and [inbound] at the top
  }
  if (link == nullptr) {
    throw std::out_of_range("no link '" + k.link + "'");
  }
  if (toml::table* t = (*link)[name].as_table()) {
    return *t;
  }
  link->insert_or_assign(name, toml::table{});
  return *(*link)[name].as_table();
}

toml::table parse_rendered(const Profile& profile) {
  try {
    return toml::parse(render_profile(profile));
  } catch (const toml::parse_error& e) {
    // render_profile writes what parse_profile reads; this would be a bug there.
    throw std::logic_error(std::string("render_profile wrote invalid TOML: ") +
                           std::string(e.description()));
  }
}

}  // namespace

Profile with_direction_keys(const Profile& base, std::span<const DirectionKey> keys,
                            std::string_view source) {
  toml::table doc = parse_rendered(base);
  for (const DirectionKey& k : keys) {
    toml::table& direction = direction_table(doc, k);
    toml::table value;
    try {
      value = toml::parse("v = " + k.toml_value);
    } catch (const toml::parse_error& e) {
      throw edit_error(source, std::string(to_string(k.direction)) + "." + k.key + ": " +
                                   std::string(e.description()));
    }
    direction.insert_or_assign(k.key, *value.get("v"));
  }
  std::ostringstream text;
  text << doc;
  try {
    return parse_profile(text.str(), source);
  } catch (const ProfileError& e) {
    std::vector<Diagnostic> unplaced = e.diagnostics();
    for (Diagnostic& d : unplaced) {
      d.line = 0;
      d.column = 0;
    }
    throw ProfileError(std::move(unplaced));
  }
}

std::string profile_json(const Profile& profile) {
  std::ostringstream out;
  out << toml::json_formatter(parse_rendered(profile));
  return out.str();
}

}  // namespace badlink
