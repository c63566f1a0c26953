#!/usr/bin/env bash
# A badlink killed with SIGKILL cannot remove its rules, but they use --queue-bypass: traffic
# keeps flowing, unimpaired. `badlink cleanup` then removes the leftovers, and leaves the
# rules of a running badlink alone.
source "$(dirname "$0")/lib.sh"

two_hosts
DELAY_MS=50
p=$(profile delay <<TOML
[profile]
name = "kill9"
[outbound]
delay = "${DELAY_MS}ms"
TOML
)

say "sanity"
base_rtt=$(ping_avg a 192.0.2.2 10)

start_badlink a badlink --profile "$p"
rtt=$(ping_avg a 192.0.2.2 10)
check "impaired while running" "$rtt - $base_rtt >= 0.95 * $DELAY_MS"
kill -KILL "$BADLINK_PID"
wait "$BADLINK_PID" 2>/dev/null || true
check "rules are still there after kill -9" "$(badlink_rules a) > 0"

say "traffic flows through the orphaned rules"
in_ns a ping -q -c 20 -i 0.05 -W 2 192.0.2.2 >"$WORK/ping.txt" || fail "ping lost: $(cat "$WORK/ping.txt")"
grep -q " 0% packet loss" "$WORK/ping.txt" || fail "loss: $(cat "$WORK/ping.txt")"
rtt=$(ping_avg a 192.0.2.2 10)
check "unimpaired after kill -9" "$rtt - $base_rtt < 0.1 * $DELAY_MS"
udp_probe a b 192.0.2.2 2000 2000 after
check "no UDP loss after kill -9" "$(value "$WORK/after.recv" lost) == 0"

say "cleanup leaves a running badlink alone and removes the dead one's rules"
start_badlink a live --profile "$p"
live=$BADLINK_PID
in_ns a "$BADLINK" cleanup >"$WORK/cleanup.out" 2>"$WORK/cleanup.log" || fail "cleanup failed: $(cat "$WORK/cleanup.log")"
check "the live instance's chains remain" \
  "$(in_ns a iptables-save | grep -c "BADLINK-$live-" || true) > 0"
check "no chain of the dead one remains" \
  "$(in_ns a iptables-save | grep -v "BADLINK-$live-" | grep -c BADLINK- || true) == 0"
stop_badlink TERM
check "nothing left at all" "$(badlink_rules a) == 0"
in_ns a "$BADLINK" cleanup 2>"$WORK/cleanup2.log" || fail "cleanup of nothing failed"
grep -q "no leftover" "$WORK/cleanup2.log" || fail "$(cat "$WORK/cleanup2.log")"
say "passed"
