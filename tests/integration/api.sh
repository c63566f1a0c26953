#!/usr/bin/env bash
# The control API from outside (curl over the Unix socket, badlink ctl, a TCP endpoint with a
# token): a PATCH takes effect on the wire and null goes back; every kind of bad input gets
# its status and message and leaves the running profile unchanged; a client that stalls
# half-way is closed while others are served; the socket goes at exit.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "needs curl"
command -v python3 >/dev/null || skip "needs python3"

two_hosts
SOCK="$WORK/api.sock"
api() {  # api METHOD PATH [CURL ARGS...]: prints the body, then the status on its own line
  local method=$1 path=$2
  shift 2
  curl -sS --unix-socket "$SOCK" -X "$method" -w '\n%{http_code}\n' "$@" "http://badlink$path"
}
status_of() { tail -n 1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
running() { api GET /v1/profile -H 'Accept: application/toml' | sed '$d'; }
median_added() {  # median_added NAME: added one-way delay of a short probe
  udp_probe a b 192.0.2.2 500 1000 "$1"
  awk -v a="$(value "$WORK/$1.recv" delay_p50_ms)" -v b="$base" 'BEGIN { print a - b }'
}

say "sanity"
udp_probe a b 192.0.2.2 300 1000 base
base=$(value "$WORK/base.recv" delay_p50_ms)

p=$(profile start <<'TOML'
[profile]
name = "api-start"
[outbound]
delay = "20ms"
TOML
)
start_badlink a badlink --profile "$p" --api "unix:$SOCK"
[ -S "$SOCK" ] || fail "no socket at $SOCK"
check "socket mode 0660" "$(stat -c %a "$SOCK") == 660"

r=$(api GET /healthz)
check "healthz 200" "$(status_of "$r") == 200"
d=$(median_added first)
check "start profile: 20 ms (-1%/+3%)" "$d >= 0.99 * 20 && $d <= 1.03 * 20"

say "PATCH"
r=$(api PATCH /v1/links/default/outbound -H 'Content-Type: application/json' \
  -d '{"delay": "60ms"}')
check "PATCH 200" "$(status_of "$r") == 200"
grep -q 'applied profile' "$WORK/badlink.log" || fail "the change was not logged"
grep -q 'uid 0' "$WORK/badlink.log" || fail "the log does not say who changed it"
d=$(median_added patched)
check "after PATCH: 60 ms (-1%/+3%)" "$d >= 0.99 * 60 && $d <= 1.03 * 60"
check "nothing lost across the change" "$(value "$WORK/patched.recv" lost) == 0"

say "ctl"
"$BADLINK" ctl --api "unix:$SOCK" set outbound.delay=30ms || fail "ctl set failed"
d=$(median_added ctl)
check "after ctl set: 30 ms (-1%/+3%)" "$d >= 0.99 * 30 && $d <= 1.03 * 30"
# ctl watch: each second's delay percentiles, of what left in that second (the run so far has
# had 20, 60 and 30 ms: a percentile since the start would not be 30 ms).
"$BADLINK" ctl --api "unix:$SOCK" watch >"$WORK/watch.txt" 2>&1 &
watcher=$!
BACKGROUND+=("$watcher")
median_added watched >/dev/null
sleep 1.2
kill -INT "$watcher"
wait "$watcher" || fail "ctl watch did not end with 0 on SIGINT: $(cat "$WORK/watch.txt")"
python3 - "$WORK/watch.txt" <<'PY' || fail "ctl watch: $(cat "$WORK/watch.txt")"
import re, sys
lines = [l for l in open(sys.argv[1]) if l.startswith("default") and " outbound " in l]
p50s = [float(m.group(1)) for l in lines if (m := re.search(r"delay p50 +([0-9.]+) ms", l))]
assert p50s and all(29.5 <= d <= 30.6 for d in p50s), (lines, p50s)
assert any(re.search(r"p50 +- ms", l) for l in open(sys.argv[1]) if " inbound " in l), "an idle direction shows -"
PY
say "ok: ctl watch shows each second's delay (30 ms)"
"$BADLINK" ctl --api "unix:$SOCK" show | python3 -c '
import json, sys
assert json.load(sys.stdin)["outbound"]["delay"] == "30ms"' || fail "ctl show"
"$BADLINK" ctl --api "unix:$SOCK" stats --json | python3 -c '
import json, sys
assert json.load(sys.stdin)["links"]["default"]["outbound"]["received"] >= 1500' ||
  fail "ctl stats --json"
status=0
"$BADLINK" ctl --api "unix:$SOCK" set outbound.delay=-4ms 2>"$WORK/ctl.err" || status=$?
check "ctl set with a bad value exits 2" "$status == 2"
grep -q 'delay' "$WORK/ctl.err" || fail "ctl does not print the API's message: $(cat "$WORK/ctl.err")"

say "null goes back to the profile's"
r=$(api PATCH /v1/links/default/outbound -H 'Content-Type: application/json' -d '{"delay": null}')
check "PATCH null 200" "$(status_of "$r") == 200"
d=$(median_added back)
check "back to 20 ms (-1%/+3%)" "$d >= 0.99 * 20 && $d <= 1.03 * 20"

say "bad input leaves the profile as it is"
before=$(running)
# expect STATUS NEEDLE METHOD PATH CURL-ARGS...: the status, a body naming NEEDLE, no change.
expect() {
  local want=$1 needle=$2
  shift 2
  local r
  r=$(api "$@")
  [ "$(status_of "$r")" = "$want" ] || fail "$* -> $(status_of "$r") (wanted $want): $(body_of "$r")"
  grep -qF -- "$needle" <<<"$(body_of "$r")" || fail "$* -> no '$needle' in $(body_of "$r")"
  [ "$(running)" = "$before" ] || fail "$* changed the running profile"
  say "ok: $want for $1 $2 ($needle)"
}
J=(-H 'Content-Type: application/json')
T=(-H 'Content-Type: application/toml')
expect 400 '"line": 2' PATCH /v1/links/default/outbound "${J[@]}" --data-binary $'{\n "delay": ,}'
expect 400 '"line": 3' PUT /v1/profile "${T[@]}" --data-binary $'[profile]\nname = "x"\ndelay = = 1\n'
expect 400 "did you mean 'delay'" PATCH /v1/links/default/outbound "${J[@]}" -d '{"dealy": "5ms"}'
expect 400 'loss' PATCH /v1/links/default/outbound "${J[@]}" -d '{"loss": "150%"}'
expect 404 'no link' PATCH /v1/links/nope/outbound "${J[@]}" -d '{"delay": "5ms"}'
expect 404 'no route' GET /v1/nothing
expect 405 'method' DELETE /v1/profile
expect 415 'application/json' PATCH /v1/links/default/outbound -H 'Content-Type: text/plain' -d 'x'
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$WORK/big.toml"
expect 413 '1 MiB' PUT /v1/profile "${T[@]}" --data-binary "@$WORK/big.toml"

say "a client that stalls half-way is closed; others are served meanwhile"
python3 - "$SOCK" <<'PY' >"$WORK/stalled.out" &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"PUT /v1/profile HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")
start = time.monotonic()
s.settimeout(30)
data = s.recv(100)
print(f"closed_after={time.monotonic() - start:.1f}\nbytes={len(data)}")
PY
stalled=$!
for _ in $(seq 20); do
  r=$(api GET /healthz)
  [ "$(status_of "$r")" = 200 ] || fail "healthz while a client stalls: $r"
done
wait "$stalled" || fail "the stalled client's script failed"
closed=$(value "$WORK/stalled.out" closed_after)
check "the stalled client is closed after the 10 s idle timeout" "$closed >= 9 && $closed <= 15"
[ "$(running)" = "$before" ] || fail "the stalled request changed the running profile"

say "a SIGHUP between two changes: the next PATCH applies on top of the reloaded file"
sed -i 's/"20ms"/"40ms"/' "$p"
kill -HUP "$BADLINK_PID"
for _ in $(seq 50); do grep -q "reloaded profile" "$WORK/badlink.log" && break; sleep 0.1; done
grep -q "reloaded profile" "$WORK/badlink.log" || fail "no reload: $(cat "$WORK/badlink.log")"
r=$(api PATCH /v1/links/default/outbound -H 'Content-Type: application/json' -d '{"jitter": "0ms"}')
check "PATCH after SIGHUP 200" "$(status_of "$r") == 200"
"$BADLINK" ctl --api "unix:$SOCK" show | python3 -c '
import json, sys
assert json.load(sys.stdin)["outbound"]["delay"] == "40ms"' || fail "the PATCH undid the SIGHUP"
d=$(median_added reloaded)
check "the reloaded file's 40 ms (-1%/+3%)" "$d >= 0.99 * 40 && $d <= 1.03 * 40"
"$BADLINK" ctl --api "unix:$SOCK" show --toml | grep -v '^#' >"$WORK/ctl.toml"
"$BADLINK" show "$p" | grep -v '^#' >"$WORK/show.toml"
diff "$WORK/ctl.toml" "$WORK/show.toml" >/dev/null ||
  fail "ctl show --toml differs from badlink show: $(diff "$WORK/ctl.toml" "$WORK/show.toml")"

say "TCP beyond loopback needs a token"
status=0
in_ns b "$BADLINK" run --api 192.0.2.2:8080 >/dev/null 2>"$WORK/notoken.log" || status=$?
check "--api 192.0.2.2:8080 without a token exits 2" "$status == 2"
grep -q 'api-token-file' "$WORK/notoken.log" || fail "no reason given: $(cat "$WORK/notoken.log")"
echo "tok-$$" >"$WORK/token"
passthrough=$(profile pass <<'TOML'
[profile]
name = "pass"
TOML
)
first_pid=$BADLINK_PID
start_badlink b badlink-b --profile "$passthrough" --api 192.0.2.2:8080 --api-token-file "$WORK/token"
r=$(in_ns a curl -sS -o /dev/null -w '%{http_code}' http://192.0.2.2:8080/v1/profile)
check "no token: 401" "$r == 401"
r=$(in_ns a curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer tok-$$" \
  http://192.0.2.2:8080/v1/profile)
check "with the token: 200" "$r == 200"
in_ns a "$BADLINK" ctl --api 192.0.2.2:8080 --api-token-file "$WORK/token" show >/dev/null ||
  fail "ctl with the token"
stop_badlink TERM

BADLINK_PID=$first_pid
stop_badlink TERM
[ -e "$SOCK" ] && fail "the socket is left after exit"
check "rules removed at exit" "$(badlink_rules a) == 0"
say "passed"
