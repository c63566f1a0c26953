#!/usr/bin/env bash
# Several links at once, gateway mode: UDP probes on two ports, each matched by a link of its own
# (different delays and losses, each direction its own), arrive within their own link's
# tolerance at the same time, both ways, and TCP on a third port (iperf3) goes through the
# catch-all link.
source "$(dirname "$0")/lib.sh"
command -v iperf3 >/dev/null 2>&1 || skip "needs iperf3"
command -v python3 >/dev/null 2>&1 || skip "needs python3"

three_hosts
N=3000

say "sanity"
PROBE_PORT=5001 udp_probe c s 203.0.113.2 500 1000 base_up
PROBE_PORT=5002 udp_probe s c 198.51.100.2 500 1000 base_down
base_up=$(value "$WORK/base_up.recv" delay_p50_ms)
base_down=$(value "$WORK/base_down.recv" delay_p50_ms)
base_rtt=$(iperf_rtt c s 203.0.113.2 5301)

p=$(profile links <<'TOML'
[profile]
name = "links-gateway"
[[link]]
name = "video"
match = { protocol = "udp", ports = ["5001"] }
outbound = { delay = "40ms", loss = "10%" }
inbound = { delay = "10ms" }
[[link]]
name = "voice"
match = { protocol = "udp", ports = ["5002"] }
outbound = { delay = "15ms" }
inbound = { delay = "25ms" }
[[link]]
name = "rest"
outbound = { delay = "5ms" }
inbound = { delay = "5ms" }
TOML
)
start_badlink g badlink --profile "$p" --wan "$ID-gs" --stats-json "$WORK/stats.json"

say "two links both ways at the same time, TCP beside them through the third"
PROBE_PORT=5001 udp_probe c s 203.0.113.2 "$N" 1000 video_up &
pids=($!)
PROBE_PORT=5002 udp_probe c s 203.0.113.2 "$N" 1000 voice_up &
pids+=($!)
PROBE_PORT=5002 udp_probe s c 198.51.100.2 "$N" 1000 voice_down &
pids+=($!)
rtt=$(iperf_rtt c s 203.0.113.2 5201)
for pid in "${pids[@]}"; do wait "$pid" || fail "a probe failed"; done

up() { awk -v a="$(value "$WORK/$1.recv" delay_p50_ms)" -v b="$base_up" 'BEGIN { print a - b }'; }
down() { awk -v a="$(value "$WORK/$1.recv" delay_p50_ms)" -v b="$base_down" 'BEGIN { print a - b }'; }
d=$(up video_up)
check "video out through the WAN: 40 ms (-1%/+3%)" "$d >= 0.99 * 40 && $d <= 1.03 * 40"
read -r lo hi < <(binomial_bounds "$N" 0.10)
lost=$(value "$WORK/video_up.recv" lost)
check "video out loses 10% ($lo..$hi of $N)" "$lost >= $lo && $lost <= $hi"
d=$(up voice_up)
check "voice out: 15 ms (-1%/+3%)" "$d >= 0.99 * 15 && $d <= 1.03 * 15"
check "voice out loses nothing" "$(value "$WORK/voice_up.recv" lost) == 0"
d=$(down voice_down)
check "voice in from the WAN: 25 ms (-1%/+3%)" "$d >= 0.99 * 25 && $d <= 1.03 * 25"
check "voice in loses nothing" "$(value "$WORK/voice_down.recv" lost) == 0"
check "TCP through the catch-all link: round trip grows by 10 ms ($rtt vs $base_rtt)" \
  "$rtt - $base_rtt >= 9 && $rtt - $base_rtt <= 21"

stop_badlink TERM
check "rules removed at exit" "$(badlink_rules g) == 0"
python3 - "$WORK/stats.json" "$N" <<'PY' || fail "per-link stats: $(cat "$WORK/stats.json")"
import json, sys
s = json.load(open(sys.argv[1])); n = int(sys.argv[2])
links = s["links"]
assert links["video"]["outbound"]["received"] == n, links["video"]
assert links["voice"]["outbound"]["received"] == n, links["voice"]
assert links["voice"]["inbound"]["received"] == n, links["voice"]
assert links["rest"]["outbound"]["received"] > 100 and links["rest"]["inbound"]["received"] > 100
assert s["backend"]["held"] == 0, s["backend"]
PY
say "ok: each link counted on its own, no verdict owed at exit"
say "passed"
