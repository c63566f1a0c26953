#!/usr/bin/env bash
# IPv6: a [match] on 2001:db8::/32 diverts IPv6 only (ip6tables rules; no IPv4 rules at all),
# outbound packets are sent again through the IPv6 raw socket, and IPv4 is left alone.
source "$(dirname "$0")/lib.sh"

two_hosts
DELAY_MS=30

say "sanity: IPv6 and IPv4 work"
in_ns a ping -6 -q -c 3 -i 0.1 -W 2 2001:db8::2 >/dev/null || fail "no IPv6 connectivity"
udp_probe a b 2001:db8::2 500 1000 base
base_p50=$(value "$WORK/base.recv" delay_p50_ms)
base_rtt6=$(ping_avg a 2001:db8::2 20)
base_rtt4=$(ping_avg a 192.0.2.2 20)

p=$(profile v6 <<TOML
[profile]
name = "ipv6-only"
[match]
hosts = ["2001:db8::/32"]
[outbound]
delay = "${DELAY_MS}ms"
duplicate = "5%"
TOML
)
start_badlink a badlink --profile "$p"
check "ip6tables rules installed" "$(in_ns a ip6tables-save | grep -c badlink) > 0"
check "no iptables (IPv4) rules" "$(in_ns a iptables-save | grep -c badlink || true) == 0"

N=3000
udp_probe a b 2001:db8::2 $N 1000 v6
r="$WORK/v6.recv"
added=$(awk -v a="$(value "$r" delay_p50_ms)" -v b="$base_p50" 'BEGIN { print a - b }')
check "IPv6: nothing lost" "$(value "$r" lost) == 0"
check "IPv6: added median delay within -1%/+3%" "$added >= 0.99 * $DELAY_MS && $added <= 1.03 * $DELAY_MS"
read -r lo hi <<<"$(binomial_bounds $N 0.05)"
check "IPv6 duplicates are Binomial($N, 0.05)" \
  "$(value "$r" duplicates) >= $lo && $(value "$r" duplicates) <= $hi"
rtt6=$(ping_avg a 2001:db8::2 20)
check "IPv6 ping grows by the delay (5%)" \
  "$rtt6 - $base_rtt6 >= 0.95 * $DELAY_MS && $rtt6 - $base_rtt6 <= 1.05 * $DELAY_MS"
rtt4=$(ping_avg a 192.0.2.2 20)
check "IPv4 is not diverted" "$rtt4 - $base_rtt4 < 0.1 * $DELAY_MS"

stop_badlink TERM
check "rules removed at exit" "$(badlink_rules a) == 0"
say "passed"
