#!/usr/bin/env bash
# A schedule live, gateway mode, measured from outside with probes at 1,000 pkt/s: outbound
# 20 ms, 80 ms from 3 s on (every probe that reached badlink before the step has 20 ms, every
# one after it 80 ms, and the step lands within 1 ms of the timeline's start + 3 s); at 5 s an
# outage of 1 s that drops (a gap of 1 s with nothing in it); at 7 s one of 1 s that holds (no
# loss, the held probes leave in order at its end, then the delay).
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip "needs python3"

three_hosts
p=$(profile schedule <<'TOML'
[profile]
name = "schedule"
[outbound]
delay = "20ms"
queue_limit = 5000
[[schedule]]
at = "3s"
outbound = { delay = "80ms" }
[[schedule]]
at = "5s"
outage = { duration = "1s", mode = "drop", direction = "outbound" }
[[schedule]]
at = "7s"
outage = { duration = "1s", mode = "hold", direction = "outbound" }
TOML
)
start_badlink g badlink --profile "$p" --wan "$ID-gs" --stats-json "$WORK/stats.json"
kill -USR1 "$BADLINK_PID"
for _ in $(seq 50); do grep -qs '"started_unix_ns"' "$WORK/stats.json" && break; sleep 0.1; done
started=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["timeline"]["started_unix_ns"])' "$WORK/stats.json") ||
  fail "no timeline in the stats: $(cat "$WORK/stats.json")"

udp_probe c s 203.0.113.2 9000 1000 probe --arrivals "$WORK/arrivals.txt"
grep -q "link 'default': step 1 begins at +3.000 s" "$WORK/badlink.log" ||
  fail "the step was not logged: $(cat "$WORK/badlink.log")"
stop_badlink TERM

python3 - "$WORK/arrivals.txt" "$started" <<'PY' || fail "the schedule was not followed (above)"
import sys
rows = [tuple(int(x) for x in line.split()[:3]) for line in open(sys.argv[1])]
start = int(sys.argv[2])
ms = 1e6
step, drop, hold = start + 3000 * ms, start + 5000 * ms, start + 7000 * ms
ok = True
def check(what, cond):
    global ok
    print(("== schedule: ok: " if cond else "FAIL: ") + what)
    ok = ok and cond
sent = {seq: s for seq, s, r in rows}
before = [(s, r - s) for seq, s, r in rows if s < step]
after = [(s, r - s) for seq, s, r in rows if step <= s < drop]
check("probes before the step: %d, after it: %d" % (len(before), len(after)), len(before) > 500 and len(after) > 1500)
late_old = max(s for s, d in before if d < 50 * ms)
early_new = min(s for s, d in after + before if d >= 50 * ms)
def within(rows, low, high):  # none early; 99% within the bound (the machine is shared)
    ds = [d for s, d in rows]
    return min(ds) >= low and sum(low <= d <= high for d in ds) >= 0.99 * len(ds)
old = [(s, d) for s, d in before if s < step - ms]
new = [(s, d) for s, d in after if s > step + ms]
check("every probe before the step has 20 ms (min %.3f, max %.3f)"
      % (min(d for s, d in old) / ms, max(d for s, d in old) / ms), within(old, 19.9 * ms, 21.5 * ms))
check("every probe after it has 80 ms (min %.3f, max %.3f)"
      % (min(d for s, d in new) / ms, max(d for s, d in new) / ms), within(new, 79.9 * ms, 81.5 * ms))
check("the step lands within 1 ms of start + 3 s (last 20 ms sent %+.3f ms, first 80 ms %+.3f ms)"
      % ((late_old - step) / ms, (early_new - step) / ms),
      abs(late_old - step) <= ms and abs(early_new - step) <= ms)
# The drop outage: nothing sent in [5 s, 6 s) arrives, everything around it does.
in_drop = [s for seq, s, r in rows if drop + ms < s < drop + 1000 * ms - ms]
check("nothing sent during the 1 s drop arrives (%d did)" % len(in_drop), len(in_drop) == 0)
seqs = sorted(sent)
gap = max(sent[b] - sent[a] for a, b in zip(seqs, seqs[1:]))
check("the gap is 1 s +- 1 ms (%.3f ms)" % (gap / ms), abs(gap - 1000 * ms) <= 2 * ms)
# The hold: nothing lost of what was sent in [7 s, 8 s), released in order at 8 s + 80 ms.
held = sorted((seq, s, r) for seq, s, r in rows if hold + ms < s < hold + 1000 * ms - ms)
check("the held probes all arrive (%d)" % len(held), len(held) > 950)
check("in order", all(a[2] <= b[2] for a, b in zip(held, held[1:])))
release = hold + 1000 * ms + 80 * ms  # the outages keep the 80 ms step
check("at the outage's end, then the delay (first %+.3f ms, last %+.3f ms)"
      % ((held[0][2] - release) / ms, (held[-1][2] - release) / ms),
      all(-1 * ms <= r - release <= 5 * ms for seq, s, r in held))
sys.exit(0 if ok else 1)
PY
check "rules removed at exit" "$(badlink_rules g) == 0"
say "passed"
