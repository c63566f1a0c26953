#!/usr/bin/env bash
# The schedules' timeline moved over the control API, measured on the wire with probes: a
# schedule whose step at 2 s takes outbound from 20 ms to 80 ms, paused at 1 s (probes well
# past 2 s still see 20 ms, a second pause is 409), resumed (the step comes after the time
# that was left, ~1 s, not at once), then restarted (20 ms again at once, the step 2 s later);
# the Python client's timeline methods.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "needs curl"
command -v python3 >/dev/null || skip "needs python3"

two_hosts
SOCK="$WORK/api.sock"
api() {  # api METHOD PATH: prints the body, then the status on its own line
  curl -sS --unix-socket "$SOCK" -X "$1" -w '\n%{http_code}\n' "http://badlink$2"
}
status_of() { tail -n 1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
field() {  # field KEY <<<JSON: a key of the timeline's JSON
  python3 -c 'import json, sys; v = json.load(sys.stdin)[sys.argv[1]]; print(str(v).lower())' "$1"
}
median() {  # median NAME: the median one-way delay in ms of a probe of COUNT at 1000 pkt/s
  udp_probe a b 192.0.2.2 "$2" 1000 "$1"
  value "$WORK/$1.recv" delay_p50_ms
}
now_ns() { date +%s%N; }

p=$(profile timeline <<'TOML'
[profile]
name = "timeline"
[outbound]
delay = "20ms"
[[schedule]]
at = "2s"
outbound = { delay = "80ms" }
TOML
)
say "sanity"
d=$(median base 300)
check "no delay before badlink" "$d < 5"

start_badlink a badlink --profile "$p" --api "unix:$SOCK"
r=$(api GET /v1/timeline)
check "GET /v1/timeline 200" "$(status_of "$r") == 200"
check "running" "\"$(body_of "$r" | field paused)\" == \"false\""

say "pause at ~1 s"
python3 - "$SOCK" <<'PY' || fail "could not wait for 1 s of timeline"
import json, socket, sys, time
def elapsed():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b"GET /v1/timeline HTTP/1.1\r\nHost: badlink\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return json.loads(data.split(b"\r\n\r\n", 1)[1])["elapsed_ns"] / 1e9
time.sleep(max(0.0, 1.0 - elapsed()))
PY
r=$(api POST /v1/timeline/pause)
check "pause 200" "$(status_of "$r") == 200"
paused_at=$(body_of "$r" | field elapsed_ns)
check "paused" "\"$(body_of "$r" | field paused)\" == \"true\""
check "paused at ~1 s (${paused_at} ns)" "$paused_at >= 0.9e9 && $paused_at <= 1.5e9"
grep -q "timeline paused" "$WORK/badlink.log" || fail "the pause was not logged"
grep -q "API (uid 0.*timeline paused" "$WORK/badlink.log" || fail "the log does not say who paused"
r=$(api POST /v1/timeline/pause)
check "a second pause is 409" "$(status_of "$r") == 409"
body_of "$r" | grep -q "paused already" || fail "409 without its reason: $r"
set +e
"$BADLINK" ctl --api "unix:$SOCK" timeline pause 2>"$WORK/ctl.err"
status=$?
set -e
check "ctl timeline pause when paused: exit 1" "$status == 1"
grep -q "409" "$WORK/ctl.err" || fail "ctl did not print the 409: $(cat "$WORK/ctl.err")"

sleep 2  # past where the step would have come
d=$(median paused 500)
check "paused past 2 s: still 20 ms (${d} ms)" "$d >= 19 && $d < 30"
r=$(api GET /v1/timeline)
still=$(body_of "$r" | field elapsed_ns)
check "its time stood still (${still} ns)" "$still == $paused_at"

say "resume"
before=$(now_ns)
r=$("$BADLINK" ctl --api "unix:$SOCK" timeline resume) || fail "ctl timeline resume failed"
after=$(now_ns)
resumed_at=$(field elapsed_ns <<<"$r")
check "resumed" "\"$(field paused <<<"$r")\" == \"false\""
# The step at 2 s of the timeline comes 2 s - (its time at resume) after the resume.
expected=$(((before + after) / 2 + 2000000000 - resumed_at))
say "the step is expected $(((expected - after) / 1000000)) ms after the resume"
udp_probe a b 192.0.2.2 2500 1000 resumed --arrivals "$WORK/resumed.txt"
python3 - "$WORK/resumed.txt" "$expected" <<'PY' || fail "the step did not come after the time left (above)"
import sys
rows = [tuple(int(x) for x in line.split()[:3]) for line in open(sys.argv[1])]
expected = int(sys.argv[2])
ms = 1e6
old = [s for seq, s, r in rows if r - s < 50 * ms]
new = [s for seq, s, r in rows if r - s >= 50 * ms]
ok = len(old) > 300 and len(new) > 300
print("== api_timeline: %d probes at 20 ms, %d at 80 ms" % (len(old), len(new)))
if ok:
    early_new, late_old = min(new), max(old)
    print("== api_timeline: last 20 ms sent %+.1f ms, first 80 ms %+.1f ms from the expected step"
          % ((late_old - expected) / ms, (early_new - expected) / ms))
    # The expected time is known to the API's round trip: 50 ms either side (the step itself
    # lands within 1 ms of its time, schedule.sh).
    ok = abs(early_new - expected) <= 50 * ms and abs(late_old - expected) <= 50 * ms
sys.exit(0 if ok else 1)
PY

say "restart"
r=$(api POST /v1/timeline/restart)
check "restart 200" "$(status_of "$r") == 200"
check "back at 0 (< 0.2 s)" "$(body_of "$r" | field elapsed_ns) < 0.2e9"
d=$(median restarted 500)
check "restarted: 20 ms at once (${d} ms)" "$d >= 19 && $d < 30"
sleep 1.7
d=$(median stepped 300)
check "the step again 2 s after the restart: 80 ms (${d} ms)" "$d >= 79 && $d < 90"
grep -q "API (uid 0.*timeline restarted" "$WORK/badlink.log" || fail "the restart was not logged"
grep -q "API (uid 0.*timeline resumed" "$WORK/badlink.log" || fail "the resume was not logged"

say "Python client"
python3 - "$(dirname "$0")/../../scripts" "unix:$SOCK" <<'PY' || fail "the Python client's timeline methods (above)"
import sys
sys.path.insert(0, sys.argv[1])
from badlink_client import Badlink, BadlinkError
link = Badlink(sys.argv[2])
assert link.timeline()["paused"] is False
assert link.pause_timeline()["paused"] is True
try:
    link.pause_timeline()
    raise SystemExit("a second pause was not refused")
except BadlinkError as e:
    assert e.status == 409 and "paused already" in e.message, e
assert link.resume_timeline()["paused"] is False
assert link.restart_timeline()["elapsed_ns"] < 200_000_000
print("== api_timeline: ok: timeline(), pause_timeline() (and its 409), resume_timeline(), restart_timeline()")
PY

stop_badlink TERM
check "rules removed at exit" "$(badlink_rules a) == 0"
say "passed"
