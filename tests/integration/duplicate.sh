#!/usr/bin/env bash
# Duplication in both directions: every duplicate must reach the receiver (outbound copies go
# out through the raw socket like every outbound packet; inbound, the first copy takes the
# kernel's verdict and the second is sent through the raw socket). Duplicate counts must be
# Binomial(n, p) within 4.5 sigma, and nothing may be lost.
source "$(dirname "$0")/lib.sh"

two_hosts
N=5000
P_DUP=0.10

p=$(profile dup <<TOML
[profile]
name = "duplicate"
[outbound]
duplicate = "10%"
[inbound]
duplicate = "10%"
TOML
)

say "sanity: no duplicates without impairment"
udp_probe a b 192.0.2.2 1000 2000 base
check "baseline: no loss, no duplicates" \
  "$(value "$WORK/base.recv" lost) == 0 && $(value "$WORK/base.recv" duplicates) == 0"

start_badlink a badlink --profile "$p" --stats-json "$WORK/stats.json"
read -r lo hi <<<"$(binomial_bounds $N $P_DUP)"

udp_probe a b 192.0.2.2 $N 2000 out
dups=$(value "$WORK/out.recv" duplicates)
check "outbound: nothing lost" "$(value "$WORK/out.recv" lost) == 0"
check "outbound duplicates $dups of $N are Binomial($N, $P_DUP)" "$dups >= $lo && $dups <= $hi"

udp_probe b a 192.0.2.1 $N 2000 in --user-stamp
dups=$(value "$WORK/in.recv" duplicates)
check "inbound: nothing lost" "$(value "$WORK/in.recv" lost) == 0"
check "inbound duplicates $dups of $N are Binomial($N, $P_DUP)" "$dups >= $lo && $dups <= $hi"

kill -USR1 "$BADLINK_PID"
for _ in $(seq 50); do [ -s "$WORK/stats.json" ] && break; sleep 0.1; done
[ -s "$WORK/stats.json" ] || fail "SIGUSR1 wrote no --stats-json"
stop_badlink TERM
grep -q '"resend_failed": 0' "$WORK/stats.json" || fail "resends failed: $(cat "$WORK/stats.json")"
check "rules removed at exit" "$(badlink_rules a) == 0"
say "passed"
