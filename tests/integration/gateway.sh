#!/usr/bin/env bash
# Gateway mode: badlink on the router between client and server (--wan = the server side).
# Outbound (leaving through the WAN interface) and inbound (arriving from it) get their own
# delays; forwarded packets are held and accepted at departure. A --wan naming no interface
# is refused (exit 2) before any rule is installed.
source "$(dirname "$0")/lib.sh"

three_hosts
OUT_MS=30
IN_MS=20

say "sanity: client and server reach each other through the gateway"
in_ns c ping -q -c 3 -i 0.1 -W 2 203.0.113.2 >/dev/null || fail "no route through the gateway"
udp_probe c s 203.0.113.2 500 1000 base_up
udp_probe s c 198.51.100.2 500 1000 base_down
base_up=$(value "$WORK/base_up.recv" delay_p50_ms)
base_down=$(value "$WORK/base_down.recv" delay_p50_ms)
base_rtt=$(ping_avg c 203.0.113.2 20)

p=$(profile gw <<TOML
[profile]
name = "gateway"
[outbound]
delay = "${OUT_MS}ms"
[inbound]
delay = "${IN_MS}ms"
TOML
)

say "a missing WAN interface is refused before anything is installed"
status=0
in_ns g "$BADLINK" run --profile "$p" --wan "$ID-nope" >"$WORK/nowan.out" 2>"$WORK/nowan.log" || status=$?
check "exit status 2 for a missing --wan" "$status == 2"
grep -q "no interface" "$WORK/nowan.log" || fail "no reason given: $(cat "$WORK/nowan.log")"
check "no rules left behind" "$(badlink_rules g) == 0"

start_badlink g badlink --profile "$p" --wan "$ID-gs" --stats-json "$WORK/stats.json"
in_ns g iptables-save -t mangle | grep -q -- "-A FORWARD -o $ID-gs" || fail "no FORWARD -o rule"
in_ns g iptables-save -t mangle | grep -q -- "-A FORWARD -i $ID-gs" || fail "no FORWARD -i rule"

udp_probe c s 203.0.113.2 2000 1000 up
udp_probe s c 198.51.100.2 2000 1000 down
up=$(awk -v a="$(value "$WORK/up.recv" delay_p50_ms)" -v b="$base_up" 'BEGIN { print a - b }')
down=$(awk -v a="$(value "$WORK/down.recv" delay_p50_ms)" -v b="$base_down" 'BEGIN { print a - b }')
check "client -> server: nothing lost" "$(value "$WORK/up.recv" lost) == 0"
check "server -> client: nothing lost" "$(value "$WORK/down.recv" lost) == 0"
check "leaving through the WAN gets the outbound delay (-1%/+3%)" \
  "$up >= 0.99 * $OUT_MS && $up <= 1.03 * $OUT_MS"
check "arriving from the WAN gets the inbound delay (-1%/+3%)" \
  "$down >= 0.99 * $IN_MS && $down <= 1.03 * $IN_MS"
rtt=$(ping_avg c 203.0.113.2 20)
total=$((OUT_MS + IN_MS))
check "ping round trip grows by both delays (5%)" \
  "$rtt - $base_rtt >= 0.95 * $total && $rtt - $base_rtt <= 1.05 * $total"

say "the gateway's own traffic is not diverted in gateway mode"
own=$(ping_avg g 203.0.113.2 10)
check "gateway -> server round trip stays small" "$own < 0.1 * $total"

stop_badlink TERM
check "rules removed at exit" "$(badlink_rules g) == 0"
grep -q '"held": 0' "$WORK/stats.json" || fail "verdicts still owed: $(cat "$WORK/stats.json")"
say "passed"
