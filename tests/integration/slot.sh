#!/usr/bin/env bash
# netem's slot live, gateway mode, measured from outside: probes every ms through a slot of
# 10 ms arrive in bursts -- the gaps between arrivals are either within a burst (well under
# a ms) or a slot apart (10-12 ms), about 11 probes a burst -- and each probe waits 0-11 ms
# more than the base path.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip "needs python3"

three_hosts
p=$(profile slot <<'TOML'
[profile]
name = "slot"
[outbound]
delay = "5ms"
slot = { min = "10ms" }
TOML
)
start_badlink g badlink --profile "$p" --wan "$ID-gs"
udp_probe c s 203.0.113.2 3000 1000 probe --arrivals "$WORK/arrivals.txt"
stop_badlink TERM
python3 - "$WORK/arrivals.txt" <<'PY' || fail "the probes did not come in slots (above)"
import sys
rows = sorted(tuple(int(x) for x in line.split()[:3]) for line in open(sys.argv[1]))
ms = 1e6
ok = True
def check(what, cond):
    global ok
    print(("== slot: ok: " if cond else "FAIL: ") + what)
    ok = ok and cond
arrivals = sorted(r for seq, s, r in rows)
gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
inside = [g for g in gaps if g < 0.5 * ms]
between = [g for g in gaps if g >= 0.5 * ms]
check("%d of %d arrived" % (len(rows), 3000), len(rows) == 3000)
check("gaps: %d within bursts, %d between (%.0f probes a burst)"
      % (len(inside), len(between), len(rows) / (len(between) + 1)),
      9 <= len(rows) / (len(between) + 1) <= 13)
# A slot opens 10 ms after the first probe ready past the last one (up to a ms later); the
# sender and the loop being late now and then move a burst, and with it two gaps.
median = sorted(between)[len(between) // 2]
check("bursts a slot apart: 95%% of the gaps between them 9.5-13 ms (median %.2f ms)" % (median / ms),
      sum(9.5 * ms <= g <= 13 * ms for g in between) >= 0.95 * len(between) and
      10 * ms <= median <= 11.5 * ms)
print("   gaps between bursts outside 9.5-13 ms:", sorted(round(g / ms, 2) for g in between if not 9.5 * ms <= g <= 13 * ms))
extra = sorted(r - s - 5 * ms for seq, s, r in rows)
check("each probe waits 0-11 ms past the 5 ms delay (p1 %.2f, p50 %.2f, p99 %.2f ms)"
      % (extra[len(extra) // 100] / ms, extra[len(extra) // 2] / ms, extra[len(extra) * 99 // 100] / ms),
      extra[0] >= -0.1 * ms and extra[len(extra) * 99 // 100] <= 11.5 * ms and 4 * ms <= extra[len(extra) // 2] <= 7 * ms)
sys.exit(0 if ok else 1)
PY
