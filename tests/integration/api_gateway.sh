#!/usr/bin/env bash
# When a change takes effect, measured from outside in gateway mode: probes at 1,000 pkt/s
# cross badlink at 20 ms while a PATCH (curl), then `badlink ctl set`, makes it 80 ms. No
# probe sent before the request started may get 80 ms, every one sent more than 1 ms after
# the response came back must (80 ms or more); none is lost. Prints the figures BENCHMARKS.md records.
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || skip "needs curl"

three_hosts
SOCK="$WORK/api.sock"
say "sanity"
udp_probe c s 203.0.113.2 300 1000 base
base=$(value "$WORK/base.recv" delay_p50_ms)
check "no impairment before badlink: p50 < 2 ms" "$base < 2"

p=$(profile start <<'TOML'
[profile]
name = "switch"
[outbound]
delay = "20ms"
TOML
)
start_badlink g badlink --profile "$p" --wan "$ID-gs" --api "unix:$SOCK"

# switch_at NAME COMMAND...: 4,000 probes at 1,000 pkt/s; COMMAND runs 2 s in, between two
# stamps of CLOCK_REALTIME (the probes' clock). Then judges every probe by when it was sent.
switch_at() {
  local name=$1
  shift
  local ready="$WORK/$name.ready"
  in_ns s "$BADLINK" probe recv --bind 203.0.113.2 --port 5000 --count 4000 --idle 3 \
    --max-time 60 --ready "$ready" --arrivals "$WORK/$name.arrivals" >"$WORK/$name.recv" &
  local receiver=$!
  for _ in $(seq 100); do [ -f "$ready" ] && break; sleep 0.05; done
  in_ns c "$BADLINK" probe send --to 203.0.113.2 --port 5000 --count 4000 --rate 1000 \
    --size 200 >"$WORK/$name.send" &
  local sender=$!
  sleep 2
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null || fail "$name: the change failed"
  t1=$(date +%s%N)
  wait "$sender" || fail "$name: sender failed"
  wait "$receiver" || fail "$name: receiver failed"
  awk -v t0="$t0" -v t1="$t1" -v name="$name" '
    # A probe got 80 ms when its delay is 80 ms and a little (badlink never sends early; the
    # tail above is the loop and the wire); one of 20 ms never gets below 79.9 ms. A stall of
    # the VM (tens of ms, every probe due in it leaving at once) delays probes of either kind:
    # it shows as delays falling 1 ms per probe, and is counted apart.
    { d = ($3 - $2) / 1e6; sent = $2; is80 = d >= 79.9 && d < 81.5 }
    !is80 && d > 21.5 && d < 79.9 { stalled++ }
    sent < t0 { before++; if (is80) { early++; odd = odd sprintf(" #%d %.1fms@%.0fms", $1, d, (sent - t0) / 1e6) } }
    sent > t1 + 1e6 { after++; if (d < 79.9) { late++; odd = odd sprintf(" #%d %.1fms@+%.0fms", $1, d, (sent - t1) / 1e6) } }
    sent >= t0 && sent <= t1 + 1e6 { between++; if (d >= 79.9) between80++ }
    is80 && (first80 == 0 || sent < first80) { first80 = sent }
    END {
      printf "%s: request %.2f ms; probes before it %d (80 ms: %d), after response+1ms %d (under 80 ms: %d), in between %d (of which 80 ms %d); first 80 ms probe sent %.2f ms after the request started; delayed by a stall %d\n",
        name, (t1 - t0) / 1e6, before, early, after, late, between, between80, (first80 - t0) / 1e6, stalled
      if (odd != "") printf "%s: misplaced (seq, delay@sent relative to the request):%s\n", name, substr(odd, 1, 600)
      printf "early=%d\nlate=%d\nbefore=%d\nafter=%d\n", early, late, before, after > "/dev/stderr"
    }' "$WORK/$name.arrivals" 2>"$WORK/$name.judged"
  check "$name: no probe sent before the request got 80 ms" "$(value "$WORK/$name.judged" early) == 0"
  check "$name: every probe sent 1 ms after the response got 80 ms or more" "$(value "$WORK/$name.judged" late) == 0"
  check "$name: probes on both sides" "$(value "$WORK/$name.judged" before) > 1500 && $(value "$WORK/$name.judged" after) > 1500"
  check "$name: none lost" "$(value "$WORK/$name.recv" lost) == 0"
}

patch() {
  curl -sS -f --unix-socket "$SOCK" -X PATCH -H 'Content-Type: application/json' \
    -d "{\"delay\": $1}" http://badlink/v1/links/default/outbound
}
switch_at curl patch '"80ms"'
patch null >/dev/null
switch_at ctl "$BADLINK" ctl --api "unix:$SOCK" set outbound.delay=80ms

stop_badlink TERM
check "rules removed at exit" "$(badlink_rules g) == 0"
say "passed"
