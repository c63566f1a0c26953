#!/usr/bin/env bash
# Outbound arrival stamps (host mode): badlink's nf_tables table writes the kernel's time into
# the mark of exactly the packets its OUTPUT rules queue. Checked from outside badlink:
# - every diverted packet carried a stamp (stats: kernel_stamped == diverted), and none left
#   early by the probe's own clock (a wrong stamp would move departures);
# - packets the [match] does not select keep their mark (an nft counter after mangle counts
#   marked pings and UDP to an unmatched port, IPv4 and IPv6);
# - the table is gone when badlink stops, and when it is killed (it belongs to its socket);
# - it is not installed while outbound changes nothing, and a reload that delays it installs it.
source "$(dirname "$0")/lib.sh"
command -v nft >/dev/null 2>&1 || skip "needs nft"
command -v python3 >/dev/null 2>&1 || skip "needs python3"

two_hosts
DELAY_MS=20
MARK=119  # 0x77 (ping -m takes decimal)

stamp_tables() { in_ns a nft list tables | grep -c "inet badlink-" || true; }

# send_marked ADDRESS PORT COUNT: COUNT UDP datagrams with SO_MARK $MARK from namespace a.
send_marked() {
  in_ns a python3 - "$1" "$2" "$3" "$MARK" <<'PY'
import socket, sys, time
address, port, count, mark = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4], 0)
family = socket.AF_INET6 if ":" in address else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 36, mark)  # SO_MARK
for i in range(count):
    s.sendto(b"x" * 32, (address, port))
    time.sleep(0.002)
PY
}

p=$(profile stamps <<TOML
[profile]
name = "output-stamps"
[match]
protocol = "udp"
ports = [5000, "6000-6010"]
hosts = ["192.0.2.0/24", "2001:db8::2/128"]
[outbound]
delay = "${DELAY_MS}ms"
TOML
)

# A counter after mangle (priority 100) of packets that still carry the mark they were sent
# with: what badlink does not divert must arrive there untouched.
in_ns a nft add table inet count
in_ns a nft add chain inet count out "{ type filter hook output priority 100; }"
in_ns a nft add rule inet count out meta mark $MARK counter

start_badlink a badlink --profile "$p" --stats-json "$WORK/stats.json"
grep -q "outbound arrival stamps: nf_tables table inet badlink-" "$WORK/badlink.log" ||
  fail "no stamps installed: $(cat "$WORK/badlink.log")"
check "the stamp table exists while badlink runs" "$(stamp_tables) == 1"

N=2000
udp_probe a b 192.0.2.2 $N 1000 v4
r="$WORK/v4.recv"
check "IPv4, a port of the list: nothing lost" "$(value "$r" lost) == 0"
check "IPv4: no packet leaves early" "$(value "$r" delay_min_ms) >= 0.999 * $DELAY_MS"

# A port inside the range, over IPv6.
ready="$WORK/v6.ready"
in_ns b "$BADLINK" probe recv --bind 2001:db8::2 --port 6005 --count 1000 --idle 3 \
  --max-time 60 --ready "$ready" >"$WORK/v6.recv" &
receiver=$!
for _ in $(seq 100); do [ -f "$ready" ] && break; sleep 0.05; done
in_ns a "$BADLINK" probe send --to 2001:db8::2 --port 6005 --count 1000 --rate 1000 \
  --size 200 >"$WORK/v6.send"
wait "$receiver" || fail "IPv6 receiver failed"
r="$WORK/v6.recv"
check "IPv6, a port of the range: nothing lost" "$(value "$r" lost) == 0"
check "IPv6: no packet leaves early" "$(value "$r" delay_min_ms) >= 0.999 * $DELAY_MS"

say "what the [match] leaves alone keeps its mark"
in_ns a ping -q -c 20 -i 0.01 -m $MARK 192.0.2.2 >/dev/null || fail "ping failed"
in_ns a ping -6 -q -c 20 -i 0.01 -m $MARK 2001:db8::2 >/dev/null || fail "ping -6 failed"
send_marked 192.0.2.2 7000 20
send_marked 2001:db8::2 7000 20
send_marked 192.0.2.2 5000 20  # matched: diverted, stamped, resent with badlink's mark
counted=$(in_ns a nft list chain inet count out | grep -o 'packets [0-9]*' | awk '{ print $2 }')
check "80 unmatched marked packets passed with their mark, the 20 matched ones did not" \
  "$counted == 80"

stop_badlink TERM
check "the stamp table is gone at exit" "$(stamp_tables) == 0"
# backend.diverted, read inside its section.
backend() {
  awk -v k="\"$1\":" '$1 == "\"backend\":" { on = 1 } on && $1 == k { gsub(/,/, "", $2); print $2; exit }' \
    "$WORK/stats.json"
}
diverted=$(backend diverted)
stamped=$(backend kernel_stamped)
check "every diverted packet carried a kernel stamp" \
  "$diverted >= $N + 1000 + 20 && $stamped == $diverted"

say "an outbound that changes nothing needs no stamps; a reload that delays it installs them"
q="$WORK/reload.toml"
printf '[profile]\nname = "inbound-only"\n[inbound]\ndelay = "1ms"\n' >"$q"
start_badlink a reload --profile "$q"
check "no stamp table while outbound passes as read" "$(stamp_tables) == 0"
printf '[profile]\nname = "outbound"\n[outbound]\ndelay = "%sms"\n' $DELAY_MS >"$q"
kill -HUP "$BADLINK_PID"
for _ in $(seq 50); do grep -q "reloaded profile 'outbound'" "$WORK/reload.log" && break; sleep 0.1; done
grep -q "reloaded profile 'outbound'" "$WORK/reload.log" || fail "no reload: $(cat "$WORK/reload.log")"
check "the reload installed the stamp table" "$(stamp_tables) == 1"
udp_probe a b 192.0.2.2 1000 1000 reloaded
check "after the reload: nothing lost" "$(value "$WORK/reloaded.recv" lost) == 0"
check "after the reload: no packet leaves early" \
  "$(value "$WORK/reloaded.recv" delay_min_ms) >= 0.999 * $DELAY_MS"
stop_badlink TERM
check "the stamp table is gone at exit" "$(stamp_tables) == 0"

say "killed: the kernel deletes the table with its socket"
start_badlink a killed --profile "$p"
check "the stamp table exists" "$(stamp_tables) == 1"
kill -KILL "$BADLINK_PID"
wait "$BADLINK_PID" 2>/dev/null || true
check "no stamp table after kill -9" "$(stamp_tables) == 0"
in_ns a "$BADLINK" cleanup 2>"$WORK/cleanup.log" || fail "cleanup failed: $(cat "$WORK/cleanup.log")"
in_ns a nft delete table inet count
check "nothing left" "$(badlink_rules a) == 0"
say "passed"
