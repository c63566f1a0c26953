// Containment and overlap of [match] sets; see match_set.hh.
#include "profile/match_set.hh"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

namespace badlink {

namespace {

// The protocols a match takes, as bits: ports narrow "all" to TCP and UDP.
enum ProtocolBits : uint8_t { kTcp = 1, kUdp = 2, kIcmp = 4, kOther = 8 };

uint8_t protocol_bits(const Match& m) {
  switch (m.protocol) {
    case Protocol::tcp:
      return kTcp;
    case Protocol::udp:
      return kUdp;
    case Protocol::icmp:
      return kIcmp;
    case Protocol::all:
      break;
  }
  return m.ports.empty() ? kTcp | kUdp | kIcmp | kOther : kTcp | kUdp;
}

// The prefixes of one family a match takes: nullopt is any address, empty is none at all
// (the match names hosts of the other family only).
std::optional<std::vector<Cidr>> hosts_of(const Match& m, int family) {
  if (m.hosts.empty()) {
    return std::nullopt;
  }
  std::vector<Cidr> out;
  std::copy_if(m.hosts.begin(), m.hosts.end(), std::back_inserter(out),
               [family](const Cidr& c) { return c.family == family; });
  return out;
}

bool same_prefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  for (int i = 0; i < bits; ++i) {
    const int shift = 7 - i % 8;
    if (((a[static_cast<std::size_t>(i / 8)] >> shift) & 1) !=
        ((b[static_cast<std::size_t>(i / 8)] >> shift) & 1)) {
      return false;
    }
  }
  return true;
}

// Whether the block address/prefix lies inside the union of `cover`: inside one of them, or
// split in halves each inside the union (only worth trying where some prefix is inside it).
bool block_covered(const std::array<uint8_t, 16>& address, int prefix, int bits,
                   const std::vector<Cidr>& cover) {
  bool smaller_inside = false;
  for (const Cidr& c : cover) {
    if (c.prefix_length <= prefix && same_prefix(c.address, address, c.prefix_length)) {
      return true;
    }
    if (c.prefix_length > prefix && same_prefix(c.address, address, prefix)) {
      smaller_inside = true;
    }
  }
  if (!smaller_inside || prefix >= bits) {
    return false;
  }
  std::array<uint8_t, 16> upper = address;
  upper[static_cast<std::size_t>(prefix / 8)] |= static_cast<uint8_t>(0x80 >> (prefix % 8));
  return block_covered(address, prefix + 1, bits, cover) &&
         block_covered(upper, prefix + 1, bits, cover);
}

// Every port of `inner` is in one of `outer`'s ranges (adjacent ranges joined).
bool ports_covered(const std::vector<PortRange>& inner, std::vector<PortRange> outer) {
  std::sort(outer.begin(), outer.end(),
            [](const PortRange& a, const PortRange& b) { return a.first < b.first; });
  std::vector<PortRange> joined;
  for (const PortRange& r : outer) {
    if (!joined.empty() && uint32_t{r.first} <= uint32_t{joined.back().last} + 1) {
      joined.back().last = std::max(joined.back().last, r.last);
    } else {
      joined.push_back(r);
    }
  }
  return std::all_of(inner.begin(), inner.end(), [&joined](const PortRange& r) {
    return std::any_of(joined.begin(), joined.end(),
                       [&r](const PortRange& j) { return j.first <= r.first && r.last <= j.last; });
  });
}

// The protocols and ports of `later` are all in `earlier`'s.
bool protocols_covered(const Match& earlier, const Match& later) {
  const uint8_t inner = protocol_bits(later);
  if ((inner & protocol_bits(earlier)) != inner) {
    return false;
  }
  if (earlier.ports.empty()) {
    return true;
  }
  // Ports take only packets whose ports can be read: not a fragment's later pieces.
  return !later.ports.empty() && ports_covered(later.ports, earlier.ports);
}

// Either endpoint in `earlier`'s prefixes whenever either is in `later`'s: `later`'s prefixes
// inside `earlier`'s union (else a packet from outside one to outside the other tells them
// apart), or `earlier` taking every address of the family.
bool hosts_covered(const Match& earlier, const Match& later, int family) {
  const auto inner = hosts_of(later, family);
  if (inner && inner->empty()) {
    return true;  // nothing of this family to cover
  }
  const auto outer = hosts_of(earlier, family);
  if (!outer) {
    return true;
  }
  const int bits = family == 4 ? 32 : 128;
  if (!inner) {
    return block_covered({}, 0, bits, *outer);
  }
  return std::all_of(inner->begin(), inner->end(), [&](const Cidr& c) {
    return block_covered(c.address, c.prefix_length, bits, *outer);
  });
}

bool takes_family(const Match& m, int family) {
  const auto hosts = hosts_of(m, family);
  return !hosts || !hosts->empty();
}

std::string port_text(const PortRange& r) {
  return r.first == r.last ? std::to_string(r.first)
                           : std::to_string(r.first) + "-" + std::to_string(r.last);
}

}  // namespace

bool covers(const Match& earlier, const Match& later) {
  if (!earlier.interface.empty() && earlier.interface != later.interface) {
    return false;
  }
  return protocols_covered(earlier, later) && hosts_covered(earlier, later, 4) &&
         hosts_covered(earlier, later, 6);
}

bool overlaps(const Match& a, const Match& b) {
  if (!a.interface.empty() && !b.interface.empty() && a.interface != b.interface) {
    return false;
  }
  if ((protocol_bits(a) & protocol_bits(b)) == 0) {
    return false;
  }
  // Hosts and ports are of either endpoint: a packet from one's host (port) to the other's
  // is taken by both.
  return (takes_family(a, 4) && takes_family(b, 4)) || (takes_family(a, 6) && takes_family(b, 6));
}

std::string describe(const Match& m) {
  std::string out;
  if (m.protocol != Protocol::all) {
    out = std::string(to_string(m.protocol));
  } else if (!m.ports.empty()) {
    out = "tcp and udp";
  }
  if (!m.ports.empty()) {
    out += m.ports.size() == 1 && m.ports[0].first == m.ports[0].last ? ", port " : ", ports ";
    for (std::size_t i = 0; i < m.ports.size(); ++i) {
      out += (i > 0 ? ", " : "") + port_text(m.ports[i]);
    }
  }
  if (!m.hosts.empty()) {
    out += out.empty() ? "" : ", ";
    out += "to or from ";
    for (std::size_t i = 0; i < m.hosts.size(); ++i) {
      out += (i > 0 ? ", " : "") + m.hosts[i].text;
    }
  }
  if (!m.interface.empty()) {
    out += (out.empty() ? "" : ", ") + std::string("on ") + m.interface;
  }
  return out.empty() ? "every packet" : out;
}

}  // namespace badlink
