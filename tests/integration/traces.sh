#!/usr/bin/env bash
# Traces live, gateway mode, measured from outside. A TCP download (iperf3 -R) through an
# inbound link whose capacity follows a packet-delivery trace (2, 10, 4, 16, 1, 8 Mbit/s, 2 s
# each, looping) follows it: per-second goodput against per-second capacity, correlation
# >= 0.9, and the goodput never above the capacity. Beside it, outbound probes through a CSV
# trace (20 ms, 60 ms from 3 s, the link's own 20 ms again from 5 s): the rows land on the
# timeline's clock within 1 ms.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null 2>&1 || skip "needs python3"
command -v iperf3 >/dev/null 2>&1 || skip "needs iperf3"

three_hosts
"$(dirname "$0")/../../scripts/make-trace" steps 2mbit:2 10mbit:2 4mbit:2 16mbit:2 1mbit:2 8mbit:2 \
  >"$WORK/steps.down"
cat >"$WORK/delay.csv" <<'CSV'
at_us,delay_us
3000000,60000
5000000,
CSV
p=$(profile traces <<'TOML'
[profile]
name = "traces"
[outbound]
delay = "20ms"
trace = "delay.csv"
[inbound]
delay = "10ms"
rate = { trace = "steps.down" }
queue_limit = 150
TOML
)
start_badlink g badlink --profile "$p" --wan "$ID-gs" --stats-json "$WORK/stats.json"
kill -USR1 "$BADLINK_PID"
for _ in $(seq 50); do grep -qs '"started_unix_ns"' "$WORK/stats.json" && break; sleep 0.1; done
started=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["timeline"]["started_unix_ns"])' "$WORK/stats.json") ||
  fail "no timeline in the stats: $(cat "$WORK/stats.json")"
python3 - "$WORK/stats.json" <<'PY' || fail "the stats do not say where the traces are: $(cat "$WORK/stats.json")"
import json, sys
link = json.load(open(sys.argv[1]))["timeline"]["links"]["default"]
assert link["outbound"]["row"] is None, link  # the first row is at 3 s
assert link["outbound"]["trace_position_ms"] is None, link
assert 0 <= link["inbound"]["trace_position_ms"] < 12000, link
PY
say "ok: the stats JSON says where the traces are"

say "CSV rows on the timeline's clock"
udp_probe c s 203.0.113.2 6000 1000 probe --arrivals "$WORK/arrivals.txt"
python3 - "$WORK/arrivals.txt" "$started" <<'PY' || fail "the CSV trace was not followed (above)"
import sys
rows = [tuple(int(x) for x in line.split()[:3]) for line in open(sys.argv[1])]
start = int(sys.argv[2])
ms = 1e6
up, down = start + 3000 * ms, start + 5000 * ms
ok = True
def check(what, cond):
    global ok
    print(("== traces: ok: " if cond else "FAIL: ") + what)
    ok = ok and cond
def share(rows, low, high):
    ds = [r - s for seq, s, r in rows]
    return min(ds) >= low and sum(low <= d <= high for d in ds) >= 0.99 * len(ds)
first = [r for r in rows if r[1] < up - ms]
middle = [r for r in rows if up + ms < r[1] < down - ms]
# keep_order: what is sent in the 40 ms after the drop waits behind the last 60 ms probe.
last = [r for r in rows if r[1] > down + 61 * ms]
check("probes in each row: %d, %d, %d" % (len(first), len(middle), len(last)),
      len(first) > 500 and len(middle) > 1500 and len(last) > 500)
check("20 ms before 3 s", share(first, 19.9 * ms, 21.5 * ms))
check("60 ms from 3 s", share(middle, 59.9 * ms, 61.5 * ms))
check("20 ms again from 5 s (an empty cell: the link's own)", share(last, 19.9 * ms, 21.5 * ms))
late = max(s for seq, s, r in rows if s < down and r - s < 40 * ms)
early = min(s for seq, s, r in rows if r - s >= 40 * ms)
# No probe sent more than 1 ms after the row keeps the old delay, none sent more than 1 ms
# before it has the new one (the probes are 1 ms apart; a gap in sending is no fault).
check("the 3 s row lands within 1 ms (last 20 ms sent %+.3f ms, first 60 ms %+.3f ms)"
      % ((late - up) / ms, (early - up) / ms), late - up <= ms and up - early <= ms)
sys.exit(0 if ok else 1)
PY

say "a TCP download follows the delivery trace"
in_ns s iperf3 -s -D -1 -p 5201 --logfile "$WORK/iperf-server.log" >/dev/null
sleep 0.3
t0=$(date +%s%N)
in_ns c iperf3 -c 203.0.113.2 -p 5201 -R -t 24 -i 1 --json >"$WORK/iperf.json" 2>&1 ||
  fail "iperf3 failed: $(cat "$WORK/iperf.json")"
stop_badlink TERM
python3 - "$WORK/iperf.json" "$WORK/steps.down" "$started" "$t0" <<'PY' || fail "the download did not follow the trace (above)"
import json, sys
j = json.load(open(sys.argv[1]))
ms = [int(x) for x in open(sys.argv[2])]
period = ms[-1]
start, t0 = int(sys.argv[3]), int(sys.argv[4])
# iperf3's intervals run from its test start, a few ms after t0 (the control connection):
# counted from t0, on the timeline's clock.
offset_ms = (t0 - start) / 1e6
def capacity(a, b):  # bits the trace offers in [a, b) ms of the timeline
    n = 0
    for m in ms:
        k = (a - m) // period  # cycles of this opportunity before a
        t = m + (k + 1) * period if m + k * period < a else m + k * period
        while t < b:
            n += 1
            t += period
    return n * 1500 * 8
goodput, offered, most = [], [], []
for iv in j["intervals"][1:]:  # the first second: slow start
    s = iv["sum"]
    a = offset_ms + s["start"] * 1000
    b = offset_ms + s["end"] * 1000
    goodput.append(s["bits_per_second"])
    offered.append(capacity(a, b) / ((b - a) / 1000))
    # iperf3's start is known to a few round trips (its control connection): the most the
    # trace offers in this second moved by up to 0.3 s.
    most.append(max(capacity(a + d, b + d) for d in range(-300, 301, 50)) / ((b - a) / 1000))
n = len(goodput)
mg, mo = sum(goodput) / n, sum(offered) / n
cov = sum((g - mg) * (o - mo) for g, o in zip(goodput, offered))
r = cov / (sum((g - mg) ** 2 for g in goodput) * sum((o - mo) ** 2 for o in offered)) ** 0.5
for g, o in zip(goodput, offered):
    print("   capacity %6.2f Mbit/s  goodput %6.2f Mbit/s" % (o / 1e6, g / 1e6))
ok = r >= 0.9
print(("== traces: ok: " if ok else "FAIL: ") + "per-second goodput follows the capacity (r = %.3f over %d s)" % (r, n))
# TCP payload is 1448 of each 1500 IP bytes; a second may hold bytes of the one before it.
over = [(g, o) for g, o in zip(goodput, most) if g > 1.05 * o]
ok2 = not over
print(("== traces: ok: " if ok2 else "FAIL: ") + "goodput never above the capacity (%d seconds over)" % len(over))
total = sum(goodput) / sum(offered)
ok3 = 0.8 <= total <= 1.0
print(("== traces: ok: " if ok3 else "FAIL: ") + "goodput is %.3f of the capacity overall" % total)
sys.exit(0 if ok and ok2 and ok3 else 1)
PY
