#!/usr/bin/env bash
# Inbound delay in host mode: badlink in the receiving namespace b delays what b receives.
# The receiver stamps in user space: the kernel's receive stamp is taken before the INPUT
# hook, so it would not see the delay.
source "$(dirname "$0")/lib.sh"

two_hosts
DELAY_MS=40

say "sanity: the link works and its own delay is small"
in_ns a ping -q -c 3 -i 0.1 -W 2 192.0.2.2 >/dev/null || fail "no connectivity before impairment"
udp_probe a b 192.0.2.2 500 1000 base --user-stamp
base_p50=$(value "$WORK/base.recv" delay_p50_ms)
base_rtt=$(ping_avg a 192.0.2.2 20)

p=$(profile delay <<TOML
[profile]
name = "inbound-delay"
[inbound]
delay = "${DELAY_MS}ms"
TOML
)
start_badlink b badlink --profile "$p" --stats-json "$WORK/stats.json"
# Delay only, packets held by the kernel; outbound passed as read: headers are enough.
check "both queues copy only headers" "$(copy_ranges b | grep -cx 512) == 2"

udp_probe a b 192.0.2.2 3000 1000 delayed --user-stamp
r="$WORK/delayed.recv"
added_p50=$(awk -v a="$(value "$r" delay_p50_ms)" -v b="$base_p50" 'BEGIN { print a - b }')
check "no loss" "$(value "$r" lost) == 0"
check "no duplicates" "$(value "$r" duplicates) == 0"
check "nothing damaged (the kernel's own packet goes on, not the cut copy)" \
  "$(value "$r" damaged) == 0"
check "no reordering" "$(value "$r" reordered) == 0"
check "added median delay within 1% below, 3% above the profile's" \
  "$added_p50 >= 0.99 * $DELAY_MS && $added_p50 <= 1.03 * $DELAY_MS"
check "no packet arrives early" "$(value "$r" delay_min_ms) >= 0.999 * $DELAY_MS"

rtt=$(ping_avg a 192.0.2.2 20)
check "ping round trip grows by the inbound delay (5%)" \
  "$rtt - $base_rtt >= 0.95 * $DELAY_MS && $rtt - $base_rtt <= 1.05 * $DELAY_MS"

stop_badlink TERM
check "rules removed at exit" "$(badlink_rules b) == 0"
grep -q '"held": 0' "$WORK/stats.json" || fail "verdicts still owed at exit: $(cat "$WORK/stats.json")"
say "passed"
