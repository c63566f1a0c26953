// Fuzz target: bytes as a GSO super-packet through gso_size_for_mtu(), gso_layout() and
// gso_write_segment(). Every segment written must be a valid IP packet of the promised size
// with a correct transport checksum, and the segments' payloads must add up to the whole.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "checksum_oracle.hh"
#include "core/gso.hh"
#include "core/ip_headers.hh"
#include "fuzz_check.hh"

namespace {

// Segments written per input at most (the first ones and the last): a 64 KB packet cut into
// 1-byte segments says nothing new after the first few.
constexpr uint32_t kMaxSegments = 48;

void check_segment(std::span<const std::byte> segment, const badlink::IpHeaders& super) {
  using namespace badlink;
  const IpHeaders h = parse_ip(segment);
  fuzz::check(h.ok(), "a segment parses");
  fuzz::check(h.version == super.version && h.protocol == super.protocol,
              "a segment keeps the version and protocol");
  fuzz::check(h.ip_length == segment.size(), "a segment's IP length is its size");
  if (const std::optional<size_t> at = fuzz::checksum_field(segment, h)) {
    const std::optional<uint16_t> scratch = fuzz::recomputed_checksum(segment, h);
    fuzz::check(scratch.has_value() && fuzz::same_checksum(*scratch, fuzz::load16(segment, *at)),
                "a segment's checksum is correct");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace badlink;
  if (size < 4) {
    return 0;
  }
  // Two bytes of segment payload (gso_size), two of MTU, then the packet.
  const uint32_t segment_payload = (uint32_t{data[0]} << 8) | data[1];
  const uint32_t mtu = (uint32_t{data[2]} << 8) | data[3];
  const std::span<const std::byte> ip(reinterpret_cast<const std::byte*>(data + 4), size - 4);
  const IpHeaders h = parse_ip(ip);
  if (!h.ok()) {
    return 0;
  }
  const uint32_t from_mtu = gso_size_for_mtu(ip, h, mtu);
  fuzz::check(from_mtu <= mtu, "a segment payload fits the MTU");

  const std::optional<GsoLayout> layout = gso_layout(ip, h, segment_payload);
  if (!layout) {
    return 0;
  }
  fuzz::check(layout->segment_payload == segment_payload && segment_payload > 0,
              "the layout keeps gso_size");
  fuzz::check(layout->header_bytes <= ip.size(), "the headers are present");
  const uint32_t want_segments =
      std::max<uint32_t>(1, (layout->payload_bytes + segment_payload - 1) / segment_payload);
  fuzz::check(layout->segments == want_segments, "segments = ceil(payload / gso_size)");

  static std::vector<std::byte> out(size_t{1} << 17);
  const size_t capacity = size_t{layout->header_bytes} + layout->segment_payload;
  const bool whole = size_t{layout->header_bytes} + layout->payload_bytes <= ip.size();
  if (!whole || capacity > out.size()) {
    return 0;
  }
  if (capacity > layout->header_bytes + 1U && layout->payload_bytes >= segment_payload) {
    fuzz::check(gso_write_segment(ip, h, *layout, 0, std::span(out).first(capacity - 1)) == 0,
                "a buffer too small for a full segment is refused");
  }
  fuzz::check(gso_write_segment(ip, h, *layout, layout->segments, out) == 0,
              "an index past the last segment is refused");
  uint64_t payload = 0;
  for (uint32_t i = 0; i < layout->segments; ++i) {
    if (i == kMaxSegments / 2 && layout->segments > kMaxSegments) {
      i = layout->segments - kMaxSegments / 2;  // the last ones, whose sizes differ
      payload += uint64_t{segment_payload} * (i - kMaxSegments / 2);
    }
    const size_t n = gso_write_segment(ip, h, *layout, i, std::span(out).first(capacity));
    fuzz::check(
        n > layout->header_bytes || (n == layout->header_bytes && layout->payload_bytes == 0),
        "a segment carries payload");
    fuzz::check(n <= capacity, "a segment fits header_bytes + gso_size");
    payload += n - layout->header_bytes;
    check_segment(std::span(out).first(n), h);
  }
  fuzz::check(payload == layout->payload_bytes, "the segments carry the whole payload");
  return 0;
}
