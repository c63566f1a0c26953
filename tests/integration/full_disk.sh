#!/usr/bin/env bash
# A full disk under --stats-json (issue 21, item 3): the file lies on a 64 KiB tmpfs that the
# test mounts and fills. SIGUSR1 then fails to write; that is an error in the log ("--stats-json:
# ... No space left on device"), not a crash: badlink runs on and goes on delaying, leaves no
# temporary file behind, and writes the JSON again once there is room. At exit (SIGTERM) with
# the disk full again, the rules are removed, the failed write is logged and the exit status
# is 0, as for any stop by a signal.
source "$(dirname "$0")/lib.sh"

command -v mount >/dev/null 2>&1 || skip "needs mount"
MNT="$WORK/full"
mkdir -p "$MNT"
mount -t tmpfs -o size=64k,mode=0755 badlink-full "$MNT" || skip "cannot mount a tmpfs"
# shellcheck disable=SC2154  # st is set inside the trap
trap 'st=$?; umount -l "$MNT" 2>/dev/null; (exit $st); cleanup' EXIT

two_hosts
DELAY_MS=30
p=$(profile delay <<TOML
[profile]
name = "full-disk"
[outbound]
delay = "${DELAY_MS}ms"
TOML
)

say "sanity"
udp_probe a b 192.0.2.2 500 1000 base
base=$(value "$WORK/base.recv" delay_p50_ms)

fill() { dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null || true; }
fill
[ "$(df --output=avail -k "$MNT" | tail -n 1 | tr -d ' ')" -eq 0 ] || fail "the tmpfs is not full"

start_badlink a badlink --profile "$p" --stats-json "$MNT/stats.json"
for _ in 1 2 3; do
  kill -USR1 "$BADLINK_PID"
  sleep 0.3
done
for _ in $(seq 50); do
  [ "$(grep -c -- "--stats-json:" "$WORK/badlink.log" || true)" -ge 3 ] && break
  sleep 0.1
done
check "each failed write is logged" "$(grep -c -- "--stats-json:" "$WORK/badlink.log" || true) >= 3"
grep -- "--stats-json:" "$WORK/badlink.log" | head -n 1 | grep -qi "no space" ||
  fail "the error does not say the disk is full: $(grep -- "--stats-json:" "$WORK/badlink.log" | head -n 1)"
say "logged: $(grep -- "--stats-json:" "$WORK/badlink.log" | head -n 1)"
kill -0 "$BADLINK_PID" || fail "badlink died on a full disk: $(cat "$WORK/badlink.log")"
check "no stats file and no temporary left" "$(find "$MNT" -name '*stats*' | wc -l) == 0"

udp_probe a b 192.0.2.2 1000 1000 full
d=$(awk -v a="$(value "$WORK/full.recv" delay_p50_ms)" -v b="$base" 'BEGIN { print a - b }')
check "still impairing with the disk full (-1%/+3%)" "$d >= 0.99 * $DELAY_MS && $d <= 1.03 * $DELAY_MS"
check "nothing lost" "$(value "$WORK/full.recv" lost) == 0"

say "room again: the next SIGUSR1 writes"
rm -f "$MNT/filler"
kill -USR1 "$BADLINK_PID"
for _ in $(seq 50); do [ -s "$MNT/stats.json" ] && break; sleep 0.1; done
grep -q '"profile": "full-disk"' "$MNT/stats.json" || fail "no stats JSON once there was room"

say "full again at exit"
rm -f "$MNT/stats.json"
fill
status=0
kill -TERM "$BADLINK_PID"
wait "$BADLINK_PID" || status=$?
say "exit status with the disk full at exit: $status; last lines: $(tail -n 2 "$WORK/badlink.log" | tr '\n' ' ')"
check "a stop by SIGTERM exits 0 even when the last write fails (logged)" "$status == 0"
grep -q -- "--stats-json: .*No space left on device" "$WORK/badlink.log" || fail "the failed write was not logged"
check "rules removed at exit" "$(badlink_rules a) == 0"
check "no temporary left" "$(find "$MNT" -name '*stats*' | wc -l) == 0"
say "passed"
