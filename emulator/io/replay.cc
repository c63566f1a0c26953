// The replay loop; see replay.hh. Per record: one copy into a pooled packet, no allocation,
// no logging; libpcap's buffered reads and writes on either side.
#include "io/replay.hh"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/packet_pool.hh"
#include "io/pcap_file.hh"
#include "io/replacement_file.hh"

namespace badlink {

namespace {

// How many records pass between looks at the output stream's error flag: a full disk stops the
// replay soon after, not at the end of a long capture.
constexpr uint64_t kWriteCheckInterval = 4096;

}  // namespace

ReplayReport replay(const ReplaySetup& setup) {
  ReplayReport report;
  report.profile_name = setup.profile_name;
  report.input = setup.input;
  report.output = setup.output;
  report.seed = setup.seed;
  report.direction = setup.direction;

  PcapReader reader(setup.input);
  const LinkLayer link(reader.link_type());
  report.link_type = reader.link_type();

  ReplacementFile output(setup.output);
  PcapWriter writer(output.path(), reader.link_type(), reader.snaplen());

  PacketPool pool;
  Engine engine(setup.configs, setup.seed, pool);

  const auto write_out = [&](PacketList due) {
    due.consume([&](Packet* p) {
      writer.write(p->departure, p->bytes(), p->wire_length);
      ++report.output_packets;
      pool.release(p);
    });
  };

  TimePoint latest = TimePoint::min();
  while (const std::optional<PcapRecord> record = reader.next()) {
    ++report.input_packets;
    TimePoint arrival = record->timestamp;
    if (arrival < latest) {
      ++report.time_went_back;
      arrival = latest;
    }
    latest = arrival;

    // Everything due by now leaves before this packet can, so output stays in departure order.
    write_out(engine.expire(arrival));

    Packet* p = pool.allocate(record->data.size());
    if (p == nullptr) {
      ++report.pool_exhausted;
      continue;
    }
    std::memcpy(p->data(), record->data.data(), record->data.size());
    p->length = static_cast<uint32_t>(record->data.size());
    p->wire_length = record->wire_length;
    const L3Location l3 = link.locate(p->bytes());
    if (l3.ip) {
      p->l3_offset = l3.offset;
    } else {
      // No IP header to parse: the engine passes it on as it is.
      ++report.non_ip;
      p->flags |= Packet::kNotIp;
    }
    p->arrival = arrival;
    p->address.direction = setup.direction;
    engine.submit(p);

    if (report.input_packets % kWriteCheckInterval == 0 && writer.failed()) {
      break;  // close() below reports it
    }
  }
  report.truncated_input = reader.truncated();
  report.input_error = reader.error();

  write_out(engine.drain());
  writer.close();
  output.commit();

  for (size_t d = 0; d < kDirections; ++d) {
    report.directions[d] = engine.stats(static_cast<Direction>(d));
  }
  return report;
}

}  // namespace badlink
