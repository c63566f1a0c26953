#!/usr/bin/env bash
# kill -9 at 20 random moments under load (issue 21, item 3): a stream of probes c -> s at
# 2,000 packets/s runs through each badlink's life; badlink starts (gateway mode in g, host
# mode in c, in turn) and is killed with SIGKILL at a random moment after launch (every
# fourth within 80 ms, so that some land during set-up; the others from 0.05 s to 2 s). Each
# time:
#   - traffic keeps flowing: every probe sent from 5 ms after the process is gone (wait
#     returns: its sockets are closed) arrives, unimpaired (the orphaned rules' --queue-bypass);
#   - what is lost is only what badlink held at the kill or was queued to it while it died:
#     the lost probes were all sent within [kill - delay - 15 ms, gone + 5 ms] (15 ms: a
#     departure late on a shared machine), at most RATE * (delay + 20 ms + dying time);
#   - `badlink cleanup` leaves no rule (iptables-save, ip6tables-save), no nf_tables table of
#     badlink's (nft list tables) and no bound queue (/proc/net/netfilter/nfnetlink_queue);
#   - the next start works (the last one impairs, stops on SIGTERM and leaves nothing).
# The probes lost per kill are printed and summed.
source "$(dirname "$0")/lib.sh"

command -v nft >/dev/null 2>&1 || skip "needs nft"
three_hosts
DELAY_MS=20
RATE=2000
KILLS=${KILLS:-20}
p=$(profile delay <<TOML
[profile]
name = "kill9-series"
[outbound]
delay = "${DELAY_MS}ms"
[inbound]
delay = "${DELAY_MS}ms"
TOML
)

say "sanity: client and server reach each other through the gateway"
in_ns c ping -q -c 3 -i 0.1 -W 2 203.0.113.2 >/dev/null || fail "no route through the gateway"
udp_probe c s 203.0.113.2 1000 "$RATE" base
base=$(value "$WORK/base.recv" delay_p50_ms)
check "nothing lost unimpaired" "$(value "$WORK/base.recv" lost) == 0"

# leftovers NS: what badlink could leave in namespace NS, as "rules tables queues".
leftovers() {
  local tables queues
  tables=$(in_ns "$1" nft list tables 2>/dev/null | grep -ci badlink || true)
  queues=$(in_ns "$1" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null | wc -l)
  echo "$(badlink_rules "$1") $tables $queues"
}

# kill_round N NS ARGS...: probes for 3 s; badlink launched in NS 0.3 s in, killed at random.
kill_round() {
  local n=$1 ns=$2
  shift 2
  local count=$((RATE * 3)) ready="$WORK/r$n.ready"
  in_ns s "$BADLINK" probe recv --bind 203.0.113.2 --port 5000 --count "$count" --idle 1 \
    --max-time 20 --ready "$ready" --arrivals "$WORK/r$n.arr" >"$WORK/r$n.recv" &
  local receiver=$!
  for _ in $(seq 100); do [ -f "$ready" ] && break; sleep 0.02; done
  [ -f "$ready" ] || fail "round $n: the receiver did not start"
  in_ns c "$BADLINK" probe send --to 203.0.113.2 --port 5000 --count "$count" --rate "$RATE" \
    --size 200 >"$WORK/r$n.send" &
  local sender=$!
  sleep 0.3
  ip netns exec "$ID-$ns" "$BADLINK" run --stats-interval 0 --profile "$p" "$@" \
    >"$WORK/r$n.out" 2>"$WORK/r$n.badlink" &
  # Every fourth kill within the first 80 ms (set-up takes some tens of ms), the rest at any
  # moment of the next 2 s.
  local pid=$! wait_ms=$((n % 4 == 0 ? RANDOM % 81 : 50 + RANDOM % 1951))
  sleep "$(awk -v m="$wait_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
  local running=0
  grep -q "running profile" "$WORK/r$n.badlink" && running=1
  # Bash's own clock (no fork between the stamp and the signal); "dead" is when wait returns:
  # the process has exited, and its descriptors (the queues' sockets) are closed.
  local killed_at dead_at
  killed_at=${EPOCHREALTIME/./}000
  kill -KILL "$pid" 2>/dev/null || fail "round $n: badlink exited before the kill: $(cat "$WORK/r$n.badlink")"
  wait "$pid" 2>/dev/null || true
  dead_at=${EPOCHREALTIME/./}000
  wait "$sender" || fail "round $n: the sender failed"
  wait "$receiver" || fail "round $n: the receiver failed"

  # Loss: which probes are missing, and when they were sent (between their neighbours).
  local verdict
  verdict=$(sort -n -k1,1 "$WORK/r$n.arr" | awk -v count="$count" -v kill="$killed_at" \
    -v delay="$DELAY_MS" -v base="$base" -v dead="$dead_at" '
    { sent[$1] = $2; delay_ms[$1] = ($3 - $2) / 1e6 }
    END {
      lost = 0; bad = 0; first = ""; last = ""; impaired = 0; late_after = 0
      prev = ""
      for (i = 0; i < count; i++) {
        if (i in sent) {
          if (gap) {  # lost probes between prev and i
            lo = (prev == "") ? sent[i] : sent[prev]
            if (lo < kill - (delay + 15) * 1e6 || sent[i] > dead + 5e6) bad += gap
            if (first == "" || lo < first) first = lo
            if (last == "" || sent[i] > last) last = sent[i]
            gap = 0
          }
          prev = i
          if (sent[i] > dead + 5e6 && delay_ms[i] - base > 5) late_after++
          if (sent[i] < kill - (delay + 15) * 1e6 && delay_ms[i] - base >= 0.99 * delay) impaired++
        } else { lost++; gap++ }
      }
      if (gap) bad += gap
      from = (first == "") ? 0 : (first - kill) / 1e6; to = (last == "") ? 0 : (last - kill) / 1e6
      printf "%d %d %d %d %.1f %.1f %.1f\n", lost, bad, late_after, impaired, from, to, (dead - kill) / 1e6
    }')
  read -r lost outside late_after impaired from to dying <<<"$verdict"
  local state
  state=$(leftovers "$ns")
  in_ns "$ns" "$BADLINK" cleanup >"$WORK/r$n.cleanup" 2>&1 || fail "round $n: cleanup failed: $(cat "$WORK/r$n.cleanup")"
  local after
  after=$(leftovers "$ns")
  printf '== %s: kill %2d in %s at %4d ms (%s), dead after %s ms: lost %3d (sent from %s to %s ms after the kill), outside the window %d, delayed after the kill %d; before cleanup rules/tables/queues %s, after %s\n' \
    "$TEST_NAME" "$n" "$ns" "$wait_ms" "$([ "$running" -eq 1 ] && echo running || echo set-up)" "$dying" \
    "$lost" "$from" "$to" "$outside" "$late_after" "${state// //}" "${after// //}"
  [ "$outside" -eq 0 ] || fail "round $n: $outside probes lost outside the kill's window"
  [ "$late_after" -eq 0 ] || fail "round $n: $late_after probes still delayed after the kill"
  check "round $n: loss within RATE x (delay + 15 ms + dying + 5 ms)" \
    "$lost <= $RATE * ($DELAY_MS + 20 + $dying) / 1000"
  [ "$after" = "0 0 0" ] || fail "round $n: left after cleanup (rules tables queues): $after"
  if [ "$running" -eq 1 ] && [ "$wait_ms" -gt 500 ]; then
    [ "$impaired" -gt 0 ] || fail "round $n: badlink ran but no probe before the kill was delayed"
  fi
  TOTAL_LOST=$((TOTAL_LOST + lost))
  MAX_LOST=$((lost > MAX_LOST ? lost : MAX_LOST))
  DYING+=("$dying")
  [ "$running" -eq 1 ] && RUNNING_KILLS=$((RUNNING_KILLS + 1))
  return 0
}

TOTAL_LOST=0
MAX_LOST=0
RUNNING_KILLS=0
DYING=()
for n in $(seq "$KILLS"); do
  if [ $((n % 2)) -eq 1 ]; then
    kill_round "$n" g --wan "$ID-gs"
  else
    kill_round "$n" c
  fi
done
say "$KILLS kills ($RUNNING_KILLS after start-up): $TOTAL_LOST probes lost in all, at most $MAX_LOST in one; SIGKILL to exit (ms): $(printf '%s\n' "${DYING[@]}" | sort -g | tr '\n' ' ')"

say "a restart after the series impairs and stops cleanly"
start_badlink g last --profile "$p" --wan "$ID-gs"
udp_probe c s 203.0.113.2 1000 "$RATE" last
d=$(awk -v a="$(value "$WORK/last.recv" delay_p50_ms)" -v b="$base" 'BEGIN { print a - b }')
check "delayed again after the series (-1%/+3%)" "$d >= 0.99 * $DELAY_MS && $d <= 1.03 * $DELAY_MS"
check "nothing lost" "$(value "$WORK/last.recv" lost) == 0"
stop_badlink TERM
check "nothing left at all" "$(leftovers g | tr ' ' +) == 0"
say "passed"
