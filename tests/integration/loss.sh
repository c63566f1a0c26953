#!/usr/bin/env bash
# Loss in both directions of host mode: outbound packets are dropped before they are sent
# again, inbound packets are answered with NF_DROP. The loss counts must be Binomial(n, p):
# checked against 4.5-sigma bounds. Afterwards no verdict is still owed to the kernel.
source "$(dirname "$0")/lib.sh"

two_hosts
N=5000
P_OUT=0.10
P_IN=0.20

say "sanity: no loss without impairment"
udp_probe a b 192.0.2.2 1000 2000 base
check "baseline loss is zero" "$(value "$WORK/base.recv" lost) == 0"

p=$(profile loss <<TOML
[profile]
name = "loss"
[outbound]
loss = "10%"
[inbound]
loss = "20%"
TOML
)
start_badlink a badlink --profile "$p" --stats-json "$WORK/stats.json"
check "a direction that loses packets gets them whole" "$(copy_ranges a | awk '$1 > 60000' | wc -l) == 2"

udp_probe a b 192.0.2.2 $N 2000 out
read -r lo hi <<<"$(binomial_bounds $N $P_OUT)"
lost=$(value "$WORK/out.recv" lost)
check "outbound loss $lost of $N is Binomial($N, $P_OUT)" "$lost >= $lo && $lost <= $hi"
check "no duplicates" "$(value "$WORK/out.recv" duplicates) == 0"

udp_probe b a 192.0.2.1 $N 2000 in --user-stamp
read -r lo hi <<<"$(binomial_bounds $N $P_IN)"
lost=$(value "$WORK/in.recv" lost)
check "inbound loss $lost of $N is Binomial($N, $P_IN)" "$lost >= $lo && $lost <= $hi"

stop_badlink INT
check "rules removed after SIGINT" "$(badlink_rules a) == 0"
grep -q '"held": 0' "$WORK/stats.json" || fail "verdicts still owed: $(cat "$WORK/stats.json")"
say "passed"
