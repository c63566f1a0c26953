#!/usr/bin/env bash
# Rate: iperf3 TCP through a gateway limited to 10 Mbit/s each way reaches at least 90% of it
# (and not more than the limit: IP bytes are limited, iperf3 counts TCP payload).
source "$(dirname "$0")/lib.sh"
command -v iperf3 >/dev/null 2>&1 || skip "needs iperf3"

three_hosts
RATE_MBIT=10

say "sanity: the path is much faster than the limit without impairment"
in_ns s iperf3 -s -D -1 -p 5201 --logfile "$WORK/iperf-base-server.log" >/dev/null
sleep 0.3
in_ns c iperf3 -c 203.0.113.2 -p 5201 -t 2 -f m >"$WORK/iperf-base.log" 2>&1 ||
  fail "iperf3 failed: $(cat "$WORK/iperf-base.log")"
base=$(awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }' "$WORK/iperf-base.log")
check "unimpaired throughput ($base Mbit/s) is far above $RATE_MBIT Mbit/s" "$base > 5 * $RATE_MBIT"

p=$(profile rate <<TOML
[profile]
name = "rate"
[outbound]
rate = "${RATE_MBIT}mbit"
[inbound]
rate = "${RATE_MBIT}mbit"
TOML
)
start_badlink g badlink --profile "$p" --wan "$ID-gs" --stats-json "$WORK/stats.json"

measure() {  # measure NAME [iperf3 options]: receiver's Mbit/s, the first 2 s omitted
  local name=$1
  shift
  in_ns s iperf3 -s -D -1 -p 5201 --logfile "$WORK/iperf-$name-server.log" >/dev/null
  sleep 0.3
  in_ns c iperf3 -c 203.0.113.2 -p 5201 -t 8 -O 2 -f m "$@" >"$WORK/iperf-$name.log" 2>&1 ||
    fail "iperf3 failed: $(cat "$WORK/iperf-$name.log")"
  awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }' \
    "$WORK/iperf-$name.log"
}
up=$(measure up)
check "upload through the WAN (outbound): $up Mbit/s >= 90% of $RATE_MBIT" \
  "$up >= 0.9 * $RATE_MBIT && $up <= 1.02 * $RATE_MBIT"
down=$(measure down -R)
check "download from the WAN (inbound): $down Mbit/s >= 90% of $RATE_MBIT" \
  "$down >= 0.9 * $RATE_MBIT && $down <= 1.02 * $RATE_MBIT"

stop_badlink TERM
check "rules removed at exit" "$(badlink_rules g) == 0"
say "passed"
