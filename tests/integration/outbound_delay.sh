#!/usr/bin/env bash
# Outbound delay in host mode: what namespace a sends is delayed by the profile's delay, and
# nothing else changes (no loss, no reordering, nothing early), measured by udp_probe and ping.
source "$(dirname "$0")/lib.sh"

two_hosts
DELAY_MS=40

say "sanity: the link works and its own delay is small"
in_ns a ping -q -c 3 -i 0.1 -W 2 192.0.2.2 >/dev/null || fail "no connectivity before impairment"
udp_probe a b 192.0.2.2 500 1000 base
base_p50=$(value "$WORK/base.recv" delay_p50_ms)
base_rtt=$(ping_avg a 192.0.2.2 20)
check "baseline loss is zero" "$(value "$WORK/base.recv" lost) == 0"

p=$(profile delay <<TOML
[profile]
name = "outbound-delay"
[outbound]
delay = "${DELAY_MS}ms"
TOML
)
start_badlink a badlink --profile "$p" --stats-json "$WORK/stats.json"
[ "$(badlink_rules a)" -gt 0 ] || fail "no rules installed"

udp_probe a b 192.0.2.2 3000 1000 delayed
r="$WORK/delayed.recv"
added_p50=$(awk -v a="$(value "$r" delay_p50_ms)" -v b="$base_p50" 'BEGIN { print a - b }')
check "no loss" "$(value "$r" lost) == 0"
check "no duplicates" "$(value "$r" duplicates) == 0"
check "no reordering (constant delay keeps order)" "$(value "$r" reordered) == 0"
check "added median delay within 1% below, 3% above the profile's" \
  "$added_p50 >= 0.99 * $DELAY_MS && $added_p50 <= 1.03 * $DELAY_MS"
check "no packet leaves early" "$(value "$r" delay_min_ms) >= 0.999 * $DELAY_MS"
check "99% leave within 5% of the delay" "$(value "$r" delay_p99_ms) - $base_p50 <= 1.05 * $DELAY_MS"

rtt=$(ping_avg a 192.0.2.2 20)
check "ping round trip grows by the outbound delay (5%)" \
  "$rtt - $base_rtt >= 0.95 * $DELAY_MS && $rtt - $base_rtt <= 1.05 * $DELAY_MS"

say "an interface comes up while badlink runs: the kernel's MLD reports and DAD probes from ::"
in_ns a ip link add x0 type veth peer name x1
in_ns a ip link set x0 up
in_ns a ip link set x1 up
sleep 2.5  # DAD (1 s) and the MLD reports' retransmissions

stop_badlink TERM
check "rules removed at exit" "$(badlink_rules a) == 0"
grep -q '"held": 0' "$WORK/stats.json" || fail "packets still held at exit: $(cat "$WORK/stats.json")"
# The kernel's own packets from :: (MLD, DAD while x0's addresses are tentative) are held,
# not resent: a raw socket cannot route them then (EADDRNOTAVAIL), and they would be lost.
grep -q '"resend_failed": 0,' "$WORK/stats.json" || fail "resends failed: $(grep resend_failed "$WORK/stats.json")"
say "passed"
