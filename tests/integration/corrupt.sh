#!/usr/bin/env bash
# Corruption in both directions: one bit flipped after the IP header with the transport
# checksum fixed, so the damage reaches the application. Inbound, the changed bytes travel in
# the kernel's verdict (NF_ACCEPT with a new payload); outbound, in the packet sent again.
# The receiver counts payloads whose filler changed: Binomial(n, p * filler bits / flippable
# bits), checked within 4.5 sigma.
source "$(dirname "$0")/lib.sh"

two_hosts
N=5000
P=0.2
SIZE=200  # udp_probe's payload: a 24-byte header, then filler
# Flippable bits: UDP header without its checksum field (6 bytes) and the payload (200 bytes).
P_SEEN=$(awk -v p=$P 'BEGIN { print p * (200 - 24) / (6 + 200) }')

say "sanity: payloads arrive unchanged without impairment"
udp_probe a b 192.0.2.2 1000 2000 base
check "baseline: nothing corrupted" "$(value "$WORK/base.recv" damaged) == 0"

p=$(profile corrupt <<TOML
[profile]
name = "corrupt"
[outbound]
corrupt = "20%"
[inbound]
corrupt = "20%"
TOML
)
start_badlink b badlink --profile "$p" --stats-json "$WORK/stats.json"
read -r lo hi <<<"$(binomial_bounds $N "$P_SEEN")"

udp_probe a b 192.0.2.2 $N 2000 in --user-stamp
c=$(value "$WORK/in.recv" damaged)
check "inbound (held, new payload in the verdict): $c changed payloads of $N" "$c >= $lo && $c <= $hi"

udp_probe b a 192.0.2.1 $N 2000 out
c=$(value "$WORK/out.recv" damaged)
check "outbound (sent again): $c changed payloads of $N" "$c >= $lo && $c <= $hi"

stop_badlink TERM
grep -q '"held": 0' "$WORK/stats.json" || fail "verdicts still owed: $(cat "$WORK/stats.json")"
check "rules removed at exit" "$(badlink_rules b) == 0"
say "passed"
