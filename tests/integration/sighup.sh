#!/usr/bin/env bash
# SIGHUP reloads the profile: a valid one takes effect whole; an invalid one is rejected with
# its reason while the running profile goes on; SIGUSR1 writes the stats JSON.
source "$(dirname "$0")/lib.sh"

two_hosts
p="$WORK/live.toml"
write_delay() {
  cat >"$p" <<TOML
[profile]
name = "delay-$1"
[outbound]
delay = "$1ms"
TOML
}
median_added() {  # median_added NAME: added one-way delay of a short probe
  udp_probe a b 192.0.2.2 1000 1000 "$1"
  awk -v a="$(value "$WORK/$1.recv" delay_p50_ms)" -v b="$base" 'BEGIN { print a - b }'
}

say "sanity"
udp_probe a b 192.0.2.2 500 1000 base
base=$(value "$WORK/base.recv" delay_p50_ms)

write_delay 20
start_badlink a badlink --profile "$p" --stats-json "$WORK/stats.json"
d=$(median_added first)
check "first profile: 20 ms (-1%/+3%)" "$d >= 0.99 * 20 && $d <= 1.03 * 20"

write_delay 60
kill -HUP "$BADLINK_PID"
for _ in $(seq 50); do grep -q "reloaded profile 'delay-60'" "$WORK/badlink.log" && break; sleep 0.1; done
grep -q "reloaded profile 'delay-60'" "$WORK/badlink.log" || fail "no reload: $(cat "$WORK/badlink.log")"
d=$(median_added second)
check "after SIGHUP: 60 ms (-1%/+3%)" "$d >= 0.99 * 60 && $d <= 1.03 * 60"
check "nothing lost across the reload" "$(value "$WORK/second.recv" lost) == 0"

printf '[profile]\nname = "broken"\n[outbound]\ndelay = "-5ms"\n' >"$p"
kill -HUP "$BADLINK_PID"
for _ in $(seq 50); do grep -q "reload rejected" "$WORK/badlink.log" && break; sleep 0.1; done
grep -q "reload rejected; still running profile 'delay-60'" "$WORK/badlink.log" ||
  fail "invalid profile not rejected: $(cat "$WORK/badlink.log")"
grep -q "live.toml:4:" "$WORK/badlink.log" || fail "no FILE:LINE for the rejection"
kill -0 "$BADLINK_PID" || fail "badlink died on an invalid reload"
d=$(median_added third)
check "the old profile keeps running: 60 ms" "$d >= 0.99 * 60 && $d <= 1.03 * 60"

kill -USR1 "$BADLINK_PID"
for _ in $(seq 50); do [ -s "$WORK/stats.json" ] && break; sleep 0.1; done
grep -q '"profile": "delay-60"' "$WORK/stats.json" || fail "SIGUSR1: no stats JSON"
grep -q '"queue_dropped"' "$WORK/stats.json" || fail "no kernel counters in the stats JSON"

stop_badlink TERM
check "rules removed at exit" "$(badlink_rules a) == 0"
say "passed"
