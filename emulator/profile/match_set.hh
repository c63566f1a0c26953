// What a [match] selects, taken as a set of packets: whether one match's packets are all
// another's (a shadowed link), whether two share any, and the set in words for `show`.
// The sets are those LinkMatcher and the firewall rules select (link_matcher.hh).
#pragma once

#include <string>

#include "profile/profile.hh"

namespace badlink {

// Every packet `later` matches is matched by `earlier` too, so that with first-match-wins a
// link with `later` behind one with `earlier` would never get a packet. Exact for the sets the
// rules select: hosts and ports of either endpoint, covered by a union of prefixes or ranges
// (10.0.0.0/8 is covered by 10.0.0.0/9 and 10.128.0.0/9); "all" with ports is TCP and UDP;
// without ports a match also takes a fragment's later pieces, with ports it does not.
bool covers(const Match& earlier, const Match& later);

// Some packet is matched by both.
bool overlaps(const Match& a, const Match& b);

// The match in words: "udp, ports 5000-5100, to or from 192.0.2.0/24, on eth0"; "every
// packet" for an empty match.
std::string describe(const Match& match);

}  // namespace badlink
