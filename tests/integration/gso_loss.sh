#!/usr/bin/env bash
# GSO super-packets keep loss per wire packet. TCP through the gateway arrives as 64 KB
# super-packets (veth keeps GSO, the queues take them whole); with 1% outbound loss badlink
# must lose 1% of the *wire* packets, not 1% of the super-packets (which would lose the same
# share on average but in runs of ~45, far outside the binomial's spread). Measured outside
# badlink: the TCP segments the client sent (OutSegs + RetransSegs, per MSS) against those the server
# received (InSegs, one per packet: the gateway's WAN side is set to send wire packets), from
# the namespaces' own /proc/net/snmp; checked against Binomial(OutSegs, 1%) within 4.5 sigma.
source "$(dirname "$0")/lib.sh"
command -v iperf3 >/dev/null 2>&1 || skip "needs iperf3"

three_hosts
# The server counts wire packets only if it receives them one by one: the gateway's WAN side
# takes no GSO, so whatever badlink passes whole is cut by the kernel on the way out.
ip -n "$ID-g" link set "$ID-gs" gso_max_segs 1 || skip "ip link cannot set gso_max_segs"
P=0.01
p=$(profile gso_loss <<TOML
[profile]
name = "gso-loss"
[outbound]
loss = "1%"
TOML
)
# tcp_segs NS FIELD: Tcp OutSegs or InSegs of namespace NS.
tcp_segs() {
  in_ns "$1" awk -v f="$2" '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) c[$i] = i; h = 1; next }
                           $1 == "Tcp:" { print $c[f] }' /proc/net/snmp
}

start_badlink g badlink --profile "$p" --wan "$ID-gs" --stats-json "$WORK/stats.json"
in_ns s iperf3 -s -D -1 -p 5201 --logfile "$WORK/iperf-server.log" >/dev/null
sleep 0.5
# OutSegs leaves out retransmissions: they are wire packets too.
out0=$(( $(tcp_segs c OutSegs) + $(tcp_segs c RetransSegs) ))
in0=$(tcp_segs s InSegs)
in_ns c iperf3 -c 203.0.113.2 -p 5201 -t 3 -f m >"$WORK/iperf.log" 2>&1 ||
  fail "iperf3 failed: $(cat "$WORK/iperf.log")"
sleep 0.5
sent=$(( $(tcp_segs c OutSegs) + $(tcp_segs c RetransSegs) - out0 ))
arrived=$(( $(tcp_segs s InSegs) - in0 ))
lost=$((sent - arrived))
stop_badlink TERM

supers=$(awk -F'[:,]' '/"gso_super_packets"/ { gsub(/ /, "", $2); print $2; exit }' "$WORK/stats.json")
check "TCP arrived as GSO super-packets ($supers of them)" "${supers:-0} > 100"
read -r lo hi <<<"$(binomial_bounds "$sent" "$P")"
check "wire packets lost: $lost of $sent (1%: $lo..$hi)" "$lost >= $lo && $lost <= $hi"
say "passed"
