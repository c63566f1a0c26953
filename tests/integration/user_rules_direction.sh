#!/usr/bin/env bash
# --no-rules --queue N with the user's own rules: a packet's direction is where the rule caught
# it (INPUT inbound, OUTPUT outbound), not which queue it came through. One rule on INPUT gets
# the inbound delay (queue N was once read as outbound: no delay at all), one on OUTPUT the
# outbound delay, and both on one queue give each direction its own delay at the same time.
source "$(dirname "$0")/lib.sh"

two_hosts
Q=7100
MARK=0x6261646c
IN_MS=15
OUT_MS=25
BOTH_OUT_MS=20
BOTH_IN_MS=45

# added NAME: the median delay of probe NAME minus the baseline's.
added() {
  awk -v a="$(value "$WORK/$1.recv" delay_p50_ms)" -v b="$(value "$WORK/$2.recv" delay_p50_ms)" \
    'BEGIN { print a - b }'
}

# counter NAME: the backend's counter NAME in the last --stats-json written.
counter() {
  awk -F': ' -v k="\"$1\"" '$1 ~ k { gsub(/[, ]/, "", $2); print $2; exit }' "$WORK/stats.json"
}

# rule NS CHAIN: the user's rule: UDP to port 5000 in CHAIN of namespace NS, to queue $Q.
rule() {
  local dev
  [ "$2" = INPUT ] && dev=(-i "$ID-${1}0") || dev=(-o "$ID-${1}0")
  in_ns "$1" iptables -t mangle -A "$2" "${dev[@]}" -p udp --dport 5000 -m mark ! --mark $MARK \
    -j NFQUEUE --queue-num $Q --queue-bypass
}

say "sanity: the link works and its own delay is small, both ways"
in_ns a ping -q -c 3 -i 0.1 -W 2 192.0.2.2 >/dev/null || fail "no connectivity before impairment"
udp_probe a b 192.0.2.2 500 1000 base_ab --user-stamp
udp_probe b a 192.0.2.1 500 1000 base_ba --user-stamp
check "baseline loss is zero" "$(value "$WORK/base_ab.recv" lost) == 0"
base_rtt=$(ping_avg a 192.0.2.2 10)

say "one rule on INPUT, queue $Q: the inbound delay"
rule b INPUT
p=$(profile inbound <<TOML
[profile]
name = "user-input"
[inbound]
delay = "${IN_MS}ms"
TOML
)
start_badlink b input --profile "$p" --no-rules --queue $Q --stats-json "$WORK/stats.json"
udp_probe a b 192.0.2.2 2000 1000 input --user-stamp
d=$(added input base_ab)
check "no loss" "$(value "$WORK/input.recv" lost) == 0"
check "INPUT on queue $Q is delayed as inbound (-1%/+5%)" \
  "$d >= 0.99 * $IN_MS && $d <= 1.05 * $IN_MS"
stop_badlink TERM
check "nothing left unclassified" "$(counter passed_unclassified) == 0"
check "nothing held at exit" "$(counter held) == 0"
in_ns b iptables -t mangle -F

say "one rule on OUTPUT, queue $Q: the outbound delay"
rule a OUTPUT
p=$(profile outbound <<TOML
[profile]
name = "user-output"
[outbound]
delay = "${OUT_MS}ms"
TOML
)
start_badlink a output --profile "$p" --no-rules --queue $Q --stats-json "$WORK/stats.json"
udp_probe a b 192.0.2.2 2000 1000 output --user-stamp
d=$(added output base_ab)
check "no loss" "$(value "$WORK/output.recv" lost) == 0"
check "OUTPUT on queue $Q is delayed as outbound (-1%/+5%)" \
  "$d >= 0.99 * $OUT_MS && $d <= 1.05 * $OUT_MS"
stop_badlink TERM
check "nothing left unclassified" "$(counter passed_unclassified) == 0"
check "the local sender's packets were resent (copied, not held)" "$(counter resent) >= 2000"
in_ns a iptables -t mangle -F

say "both rules on queue $Q: each direction its own delay, at the same time"
rule b INPUT
rule b OUTPUT
p=$(profile both <<TOML
[profile]
name = "user-both"
[outbound]
delay = "${BOTH_OUT_MS}ms"
[inbound]
delay = "${BOTH_IN_MS}ms"
TOML
)
start_badlink b both --profile "$p" --no-rules --queue $Q --stats-json "$WORK/stats.json"
udp_probe a b 192.0.2.2 3000 1000 both_in --user-stamp &
inbound_probe=$!
udp_probe b a 192.0.2.1 3000 1000 both_out --user-stamp
wait "$inbound_probe" || fail "the inbound probe failed"
d_in=$(added both_in base_ab)
d_out=$(added both_out base_ba)
check "no loss inbound" "$(value "$WORK/both_in.recv" lost) == 0"
check "no loss outbound" "$(value "$WORK/both_out.recv" lost) == 0"
check "inbound gets the inbound delay (-1%/+5%)" \
  "$d_in >= 0.99 * $BOTH_IN_MS && $d_in <= 1.05 * $BOTH_IN_MS"
check "outbound gets the outbound delay (-1%/+5%)" \
  "$d_out >= 0.99 * $BOTH_OUT_MS && $d_out <= 1.05 * $BOTH_OUT_MS"
rtt=$(ping_avg a 192.0.2.2 10)
check "ICMP (no rule) is not delayed" "$rtt - $base_rtt < 0.1 * $BOTH_OUT_MS"
stop_badlink TERM
check "nothing left unclassified" "$(counter passed_unclassified) == 0"
check "nothing held at exit" "$(counter held) == 0"
say "passed"
