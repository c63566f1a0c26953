#!/usr/bin/env bash
# Corruption in both directions: one bit flipped after the IP header with the transport
# checksum fixed, so the damage reaches the application. Inbound, the changed bytes travel in
# the kernel's verdict (NF_ACCEPT with a new payload); outbound, in the packet sent again.
# Where the bit lands decides what the receiver sees: in the payload's filler, its sequence
# number, send stamp or length, a damaged payload; in its magic or stream number, or in the
# UDP destination port or length, no packet of this stream at all. Either way the packet is
# not received intact, and counts as lost: only a flip in the UDP source port (16 of the
# flippable bits: the receiver's socket is not connected) goes unseen. So lost is
# Binomial(n, p * (flippable - 16) / flippable), checked within 4.5 sigma, and damaged (at
# least the filler's share, at most the lost) must be there too.
source "$(dirname "$0")/lib.sh"

two_hosts
N=5000
P=0.2
SIZE=200  # udp_probe's payload: a 24-byte header, then filler
# Flippable bits: the UDP header without its checksum field (6 bytes) and the payload.
FLIPPABLE=$(((6 + SIZE) * 8))
P_LOST=$(awk -v p=$P -v f=$FLIPPABLE 'BEGIN { print p * (f - 16) / f }')
P_FILLER=$(awk -v p=$P -v f=$FLIPPABLE -v s=$SIZE 'BEGIN { print p * (s - 24) * 8 / f }')

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
read -r lo hi <<<"$(binomial_bounds $N "$P_LOST")"
read -r dlo _ <<<"$(binomial_bounds $N "$P_FILLER")"

for dir in in out; do
  if [ $dir = in ]; then
    udp_probe a b 192.0.2.2 $N 2000 in --user-stamp
    what="inbound (held, new payload in the verdict)"
  else
    udp_probe b a 192.0.2.1 $N 2000 out
    what="outbound (sent again)"
  fi
  lost=$(value "$WORK/$dir.recv" lost)
  damaged=$(value "$WORK/$dir.recv" damaged)
  check "$what: $lost of $N not received intact" "$lost >= $lo && $lost <= $hi"
  check "$what: $damaged of them damaged" "$damaged >= $dlo && $damaged <= $lost"
done

stop_badlink TERM
grep -q '"held": 0' "$WORK/stats.json" || fail "verdicts still owed: $(cat "$WORK/stats.json")"
check "rules removed at exit" "$(badlink_rules b) == 0"
say "passed"
