#!/usr/bin/env bash
# Rules are removed on every way out: SIGTERM and SIGINT (through the loop, exit 0), and a
# failed start (exit 1 or 2, nothing left). Two instances at once get different queues.
# Without CAP_SYS_NICE the scheduling options fail naming it, leaving nothing behind.
source "$(dirname "$0")/lib.sh"

two_hosts
p=$(profile delay <<TOML
[profile]
name = "cleanup"
[outbound]
delay = "10ms"
TOML
)
bad=$(profile bad <<TOML
[profile]
name = "bad"
[outbound]
delay = "ten ms"
TOML
)

say "sanity: no rules before"
check "no badlink rules in a fresh namespace" "$(badlink_rules a) == 0"

for signal in TERM INT; do
  start_badlink a "run-$signal" --profile "$p"
  check "rules present while running" "$(badlink_rules a) > 0"
  stop_badlink "$signal"
  check "no rules after SIG$signal" "$(badlink_rules a) == 0"
  check "no chains after SIG$signal" "$(in_ns a iptables-save | grep -c BADLINK- || true) == 0"
done

say "a signal to badlink and then to its process group (timeout(1), a terminal's Ctrl-C)"
# timeout sends SIGINT to badlink, then to its whole group: an iptables that badlink is just
# starting to remove a rule is still in that group, and was killed (exit 130) before the
# termination signals were blocked in it; the rule and its chain were left behind.
timeout --preserve-status -s INT 3 ip netns exec "$ID-a" "$BADLINK" run --profile "$p" \
  --stats-interval 0 2>"$WORK/group.log" &
group=$!
BACKGROUND+=("$group")
status=0
wait "$group" || status=$?
check "exit 0 after the group's SIGINT: $status" "$status == 0"
grep -q "running profile" "$WORK/group.log" || fail "badlink did not start: $(cat "$WORK/group.log")"
if grep -q "could not remove" "$WORK/group.log"; then
  fail "a rule survived: $(grep "could not remove" "$WORK/group.log")"
fi
check "no rules after the group's SIGINT" "$(badlink_rules a) == 0"

say "a signal during start-up still leaves nothing behind"
# Not through in_ns (a shell function): $! must be badlink itself, not a subshell.
ip netns exec "$ID-a" "$BADLINK" run --profile "$p" --stats-interval 0 2>"$WORK/early.log" &
early=$!
BACKGROUND+=("$early")
sleep 0.05
kill -TERM "$early"
status=0
wait "$early" || status=$?
check "exit 0 (clean stop) or 143 (killed before badlink blocked the signal): $status" \
  "$status == 0 || $status == 143"
check "no rules after an early SIGTERM" "$(badlink_rules a) == 0"

say "an invalid profile never starts"
status=0
in_ns a "$BADLINK" run --profile "$bad" 2>"$WORK/bad.log" || status=$?
check "exit 2 for an invalid profile" "$status == 2"
grep -q "bad.toml:4:" "$WORK/bad.log" || fail "no FILE:LINE in: $(cat "$WORK/bad.log")"
check "no rules" "$(badlink_rules a) == 0"

say "two instances take different queues"
start_badlink a first --profile "$p"
first=$BADLINK_PID
start_badlink a second --profile "$p"
second=$BADLINK_PID
grep -q "NFQUEUE 4200" "$WORK/first.log" || fail "first instance not on 4200: $(cat "$WORK/first.log")"
grep -q "NFQUEUE 4202" "$WORK/second.log" || fail "second instance not on 4202: $(cat "$WORK/second.log")"
status=0
in_ns a "$BADLINK" run --profile "$p" --queue 4200 2>"$WORK/busy.log" || status=$?
check "an explicit queue in use: exit 1" "$status == 1"
grep -q "bound by another program" "$WORK/busy.log" || fail "no reason: $(cat "$WORK/busy.log")"
BADLINK_PID=$second
stop_badlink TERM
BADLINK_PID=$first
stop_badlink TERM
check "no rules after both stopped" "$(badlink_rules a) == 0"

say "without CAP_SYS_NICE: --realtime and a negative --nice fail naming it, the default falls back"
nonice=(setpriv --bounding-set -sys_nice)  # util-linux: root without CAP_SYS_NICE after exec
status=0
in_ns a "${nonice[@]}" "$BADLINK" run --profile "$p" --realtime 2>"$WORK/nort.log" || status=$?
check "--realtime without CAP_SYS_NICE: exit 1" "$status == 1"
grep -q -- "--realtime (SCHED_FIFO needs CAP_SYS_NICE): sched_setscheduler" "$WORK/nort.log" ||
  fail "not named: $(cat "$WORK/nort.log")"
check "no rules" "$(badlink_rules a) == 0"
status=0
in_ns a "${nonice[@]}" "$BADLINK" run --profile "$p" --nice -5 2>"$WORK/nonice.log" || status=$?
check "--nice -5 without CAP_SYS_NICE: exit 1" "$status == 1"
grep -q -- "--nice -5 (below 0 needs CAP_SYS_NICE)" "$WORK/nonice.log" ||
  fail "not named: $(cat "$WORK/nonice.log")"
check "no rules" "$(badlink_rules a) == 0"
status=0
in_ns a timeout --preserve-status -s INT 3 "${nonice[@]}" "$BADLINK" run --profile "$p" \
  2>"$WORK/fallback.log" || status=$?
check "the default without CAP_SYS_NICE runs (and stops on SIGINT with 0)" "$status == 0"
grep -q "the packet loop keeps nice 0" "$WORK/fallback.log" ||
  fail "no fallback warning: $(cat "$WORK/fallback.log")"
check "no rules" "$(badlink_rules a) == 0"

if command -v capsh >/dev/null 2>&1; then
  say "without CAP_NET_RAW badlink names the missing capability"
  status=0
  in_ns a capsh --drop=cap_net_raw -- -c "'$BADLINK' run --profile '$p'" 2>"$WORK/nocap.log" ||
    status=$?
  check "exit 1 without CAP_NET_RAW" "$status == 1"
  grep -q "missing CAP_NET_RAW" "$WORK/nocap.log" || fail "not named: $(cat "$WORK/nocap.log")"
  check "no rules" "$(badlink_rules a) == 0"
fi
say "passed"
