#!/usr/bin/env bash
# The stalled-sender case: a local UDP sender at 5,000 packets/s through 200 ms of outbound
# delay. Held NFQUEUE verdicts would keep ~1,000 packets charged to the sender's socket and
# throttle it to about a quarter of its rate; badlink drops the original at once and sends a
# copy later, so the sender keeps >= 95% of its rate and nothing is lost.
source "$(dirname "$0")/lib.sh"

two_hosts
RATE=5000
N=20000
DELAY_MS=200

p=$(profile stall <<TOML
[profile]
name = "stalled-sender"
[outbound]
delay = "${DELAY_MS}ms"
TOML
)

say "sanity: the sender reaches its rate unimpaired"
udp_probe a b 192.0.2.2 5000 $RATE base
check "baseline rate >= 95%" "$(value "$WORK/base.send" achieved_pps) >= 0.95 * $RATE"

start_badlink a badlink --profile "$p" --stats-json "$WORK/stats.json"
udp_probe a b 192.0.2.2 $N $RATE stalled
s="$WORK/stalled.send"
r="$WORK/stalled.recv"
check "sender keeps >= 95% of its rate ($(value "$s" achieved_pps) of $RATE pkt/s)" \
  "$(value "$s" achieved_pps) >= 0.95 * $RATE"
check "no send errors" "$(value "$s" send_errors) == 0"
check "nothing lost ($N packets)" "$(value "$r" lost) == 0"
check "median delay within 2% of ${DELAY_MS} ms" \
  "$(value "$r" delay_p50_ms) >= 0.999 * $DELAY_MS && $(value "$r" delay_p50_ms) <= 1.02 * $DELAY_MS"
stop_badlink TERM
check "rules removed at exit" "$(badlink_rules a) == 0"
say "passed"
