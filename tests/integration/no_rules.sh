#!/usr/bin/env bash
# --no-rules --queue N: badlink installs nothing and serves the rules the user wrote (here:
# outbound UDP only, to queue N, caught in POSTROUTING, where a local sender's packets are told
# from forwarded ones by their socket owner; inbound UDP to N+1, the way such rules were written
# when N+1 was read as the inbound queue), leaving them as they were when it exits.
source "$(dirname "$0")/lib.sh"

two_hosts
DELAY_MS=30
Q=7000
MARK=0x6261646c

say "sanity"
udp_probe a b 192.0.2.2 500 1000 base
base=$(value "$WORK/base.recv" delay_p50_ms)
base_rtt=$(ping_avg a 192.0.2.2 10)

in_ns a iptables -t mangle -A POSTROUTING -o "$ID-a0" -p udp -m mark ! --mark $MARK \
  -j NFQUEUE --queue-num $Q --queue-bypass
in_ns a iptables -t mangle -A INPUT -i "$ID-a0" -p udp -m mark ! --mark $MARK \
  -j NFQUEUE --queue-num $((Q + 1)) --queue-bypass
before=$(in_ns a iptables-save -t mangle | grep -v '^#' | sed 's/\[[0-9:]*\]//')

p=$(profile delay <<TOML
[profile]
name = "no-rules"
[outbound]
delay = "${DELAY_MS}ms"
TOML
)
status=0
in_ns a "$BADLINK" run --profile "$p" --no-rules 2>"$WORK/noqueue.log" || status=$?
check "--no-rules without --queue is bad usage" "$status == 2"

start_badlink a badlink --profile "$p" --no-rules --queue $Q
grep -q "NFQUEUE $Q and $((Q + 1))" "$WORK/badlink.log" || fail "not on queues $Q and $((Q + 1))"
during=$(in_ns a iptables-save -t mangle | grep -v '^#' | sed 's/\[[0-9:]*\]//')
[ "$before" = "$during" ] || fail "badlink changed the rules: $during"

udp_probe a b 192.0.2.2 2000 1000 delayed
d=$(awk -v a="$(value "$WORK/delayed.recv" delay_p50_ms)" -v b="$base" 'BEGIN { print a - b }')
check "UDP (the user's rule) is delayed (-1%/+3%)" "$d >= 0.99 * $DELAY_MS && $d <= 1.03 * $DELAY_MS"
check "nothing lost" "$(value "$WORK/delayed.recv" lost) == 0"
rtt=$(ping_avg a 192.0.2.2 10)
check "ICMP (no rule) is not" "$rtt - $base_rtt < 0.1 * $DELAY_MS"

stop_badlink TERM
after=$(in_ns a iptables-save -t mangle | grep -v '^#' | sed 's/\[[0-9:]*\]//')
[ "$before" = "$after" ] || fail "the user's rules changed: $after"
say "passed"
