// Changes made to a profile from outside a file (the control API): some of a link's direction
// keys set, checked exactly as a file is; and a profile as JSON.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/packet.hh"  // Direction
#include "profile/profile.hh"

namespace badlink {

// One direction key of one link, with its value as TOML text (what a file writes after
// "key = ", e.g. "\"80ms\"" or "{ model = \"markov\", p13 = \"1%\" }").
struct DirectionKey {
  std::string link;
  Direction direction = Direction::outbound;
  std::string key;
  std::string toml_value;
};

// `base` with every key of `keys` set in its link's direction (later ones win), validated as
// parse_profile validates a file: an unknown key gets its "did you mean", a value out of
// range its reason. Throws ProfileError (its diagnostics carry no position: they would point
// into the generated text) and std::out_of_range for a link `base` does not have.
Profile with_direction_keys(const Profile& base, std::span<const DirectionKey> keys,
                            std::string_view source);

// The effective profile (every default filled in, as render_profile writes it) as a JSON
// object: the same keys and value strings as the TOML.
std::string profile_json(const Profile& profile);

}  // namespace badlink
