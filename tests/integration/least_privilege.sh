#!/usr/bin/env bash
# Least privilege, checked from outside the process: once set-up is done, `badlink run` holds
# only CAP_NET_ADMIN and CAP_NET_RAW effective (CAP_SYS_NICE at most permitted, held back for
# the loop's priority), and every thread runs under its seccomp filter -- while the traffic is
# still impaired, reloads that add and remove jumps (iptables runs under the filter) work,
# SIGUSR1 writes the stats and SIGTERM exits 0 with its rules removed. --no-seccomp loads none.
source "$(dirname "$0")/lib.sh"

CAP_NET_ADMIN=12
CAP_NET_RAW=13
CAP_SYS_NICE=23
NET=$(((1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW)))

two_hosts
p="$WORK/live.toml"
write_delay() {
  printf '[profile]\nname = "delay-%s"\n[outbound]\ndelay = "%sms"\n' "$1" "$1" >"$p"
}
write_empty() {
  printf '[profile]\nname = "empty"\n' >"$p"
}
field() {  # field STATUS-FILE NAME: the value of "NAME:" in a /proc status file
  awk -v k="$2:" '$1 == k { print $2; found = 1 } END { if (!found) exit 1 }' "$1" ||
    fail "no $2 in $1"
}
hex() { echo $((16#$1)); }
jumps() {  # badlink's jumps at OUTPUT and INPUT of namespace a (IPv4)
  local n=0 hook
  for hook in OUTPUT INPUT; do
    n=$((n + $(in_ns a iptables -w 5 -t mangle -S "$hook" | grep -c 'BADLINK-' || true)))
  done
  echo "$n"
}
reload() {  # reload NAME: SIGHUP, and wait for the profile NAME to be running
  kill -HUP "$BADLINK_PID"
  for _ in $(seq 50); do grep -q "reloaded profile '$1'" "$WORK/badlink.log" && return 0; sleep 0.1; done
  fail "no reload to '$1': $(cat "$WORK/badlink.log")"
}
median_added() {  # median_added NAME: added one-way delay of a short probe
  udp_probe a b 192.0.2.2 1000 1000 "$1"
  awk -v a="$(value "$WORK/$1.recv" delay_p50_ms)" -v b="$base" 'BEGIN { print a - b }'
}
threads_with_seccomp() {  # threads_with_seccomp PID MODE: "THREADS MATCHING"
  local all=0 matching=0 status
  for status in /proc/"$1"/task/*/status; do
    all=$((all + 1))
    [ "$(field "$status" Seccomp)" = "$2" ] && matching=$((matching + 1))
  done
  echo "$all $matching"
}

say "sanity"
udp_probe a b 192.0.2.2 500 1000 base
base=$(value "$WORK/base.recv" delay_p50_ms)

write_delay 20
start_badlink a badlink --profile "$p" --stats-json "$WORK/stats.json"
grep -q "seccomp: .* system calls allowed" "$WORK/badlink.log" || fail "no seccomp line in the log"
# Read before any traffic: the loop raises CAP_SYS_NICE for an instant when it raises its
# priority again, and with nothing to time it has nothing to raise.
status="/proc/$BADLINK_PID/status"
eff=$(hex "$(field "$status" CapEff)")
prm=$(hex "$(field "$status" CapPrm)")
amb=$(hex "$(field "$status" CapAmb)")
say "CapEff $(field "$status" CapEff) CapPrm $(field "$status" CapPrm) CapAmb $(field "$status" CapAmb)"
check "effective: CAP_NET_ADMIN and CAP_NET_RAW only" "$eff == $NET"
check "permitted: those, and CAP_SYS_NICE at most" \
  "$((prm & ~(NET | (1 << CAP_SYS_NICE)))) == 0 && $((prm & NET)) == $NET"
if [ $((prm & (1 << CAP_SYS_NICE))) -ne 0 ]; then
  grep -q "the packet loop runs at nice -" "$WORK/badlink.log" ||
    fail "CAP_SYS_NICE permitted, but the loop does not run raised: nothing to hold it back for"
fi
check "ambient (what iptables gets): CAP_NET_ADMIN and CAP_NET_RAW only" "$amb == $NET"
check "no_new_privs (the filter sets it)" "$(field "$status" NoNewPrivs) == 1"
read -r all filtered <<<"$(threads_with_seccomp "$BADLINK_PID" 2)"
check "every thread filtered (Seccomp: 2): $filtered of $all" "$all >= 1 && $filtered == $all"
check "a filter loaded (Seccomp_filters)" "$(field "$status" Seccomp_filters) >= 1"
for task in /proc/"$BADLINK_PID"/task/*; do
  check "thread ${task##*/}: CapEff as the process's" "$(hex "$(field "$task/status" CapEff)") == $NET"
done

d=$(median_added delayed)
check "impaired under the filter: 20 ms (-1%/+3%)" "$d >= 0.99 * 20 && $d <= 1.03 * 20"
check "outbound's jump in" "$(jumps) == 1"

say "reloads that take the jump out and put it back (iptables under the filter)"
write_empty
reload empty
check "empty profile: no jump" "$(jumps) == 0"
write_delay 40
reload delay-40
check "delaying again: the jump is back" "$(jumps) == 1"
d=$(median_added reloaded)
check "after the reloads: 40 ms (-1%/+3%)" "$d >= 0.99 * 40 && $d <= 1.03 * 40"
check "no call refused in the log" "$(grep -ci 'not permitted' "$WORK/badlink.log" || true) == 0"

kill -USR1 "$BADLINK_PID"
for _ in $(seq 50); do grep -q '"profile": "delay-40"' "$WORK/stats.json" 2>/dev/null && break; sleep 0.1; done
grep -q '"profile": "delay-40"' "$WORK/stats.json" || fail "SIGUSR1: no stats JSON"
read -r all filtered <<<"$(threads_with_seccomp "$BADLINK_PID" 2)"
check "still every thread filtered: $filtered of $all" "$filtered == $all"

stop_badlink TERM
check "rules removed at exit" "$(badlink_rules a) == 0"
check "stamps table gone" "$(in_ns a nft list tables 2>/dev/null | grep -c badlink || true) == 0"
grep -q '"profile": "delay-40"' "$WORK/stats.json" || fail "no stats JSON at exit"

say "--no-seccomp"
start_badlink a plain --profile "$p" --no-seccomp
read -r all unfiltered <<<"$(threads_with_seccomp "$BADLINK_PID" 0)"
check "no thread filtered (Seccomp: 0): $unfiltered of $all" "$all >= 1 && $unfiltered == $all"
check "effective capabilities the same" "$(hex "$(field "/proc/$BADLINK_PID/status" CapEff)") == $NET"
stop_badlink TERM
check "rules removed at exit" "$(badlink_rules a) == 0"
say "passed"
