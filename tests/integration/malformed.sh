#!/usr/bin/env bash
# Packets whose headers do not add up (here: UDP with a 4-byte transport header, sent through
# a raw socket) are passed on unchanged at once and counted; badlink does not crash, and the
# well-formed traffic around them is impaired as usual.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip "needs python3 (to send malformed packets)"
command -v tcpdump >/dev/null 2>&1 || skip "needs tcpdump"

two_hosts
COUNT=20
p=$(profile delay <<TOML
[profile]
name = "malformed"
[outbound]
delay = "20ms"
TOML
)
start_badlink a badlink --profile "$p" --stats-json "$WORK/stats.json" --dump

in_ns b tcpdump -i "$ID-b0" -n -c $COUNT -w "$WORK/short.pcap" 'ip proto 17 and ip[2:2] == 23' \
  >/dev/null 2>"$WORK/tcpdump.log" &
capture=$!
BACKGROUND+=("$capture")
sleep 1
in_ns a python3 - <<'PY'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
def checksum(b):
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff)
    return ~(t + (t >> 16)) & 0xffff
for i in range(20):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 23, i + 1, 0, 64, 17, 0,
                         socket.inet_aton("192.0.2.1"), socket.inet_aton("192.0.2.2"))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    s.sendto(header + b"\x13\x88\x13", ("192.0.2.2", 0))  # 3 bytes: not even a UDP header
PY
for _ in $(seq 50); do kill -0 "$capture" 2>/dev/null || break; sleep 0.1; done
kill -0 "$capture" 2>/dev/null && fail "the malformed packets did not all arrive: $(cat "$WORK/tcpdump.log")"
say "ok: all $COUNT malformed packets reached b"

udp_probe a b 192.0.2.2 500 1000 after
check "well-formed traffic still flows" "$(value "$WORK/after.recv" lost) == 0"
check "and is still delayed" "$(value "$WORK/after.recv" delay_p50_ms) >= 0.999 * 20"

stop_badlink TERM
malformed=$(awk -F': ' '/"passed_malformed"/ { gsub(/,/, "", $2); print $2 }' "$WORK/stats.json")
check "badlink counted them as malformed ($malformed)" "$malformed >= $COUNT"
check "--dump printed the well-formed packets" \
  "$(grep -c "^outbound $ID-a0 192.0.2.1:[0-9]* > 192.0.2.2:5000 udp len 228$" "$WORK/badlink.out") >= 500"
say "passed"
