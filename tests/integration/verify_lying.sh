#!/usr/bin/env bash
# badlink verify catches a badlink that does not do what the profile says: verifying lte.toml
# against a badlink running another profile (hidden --run-profile) fails (exit 1) on exactly the
# figures that differ. A bad profile or bad usage is exit 2; SIGINT mid-run is exit 1 with the
# testbed removed.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

say "bad profile and bad usage: exit 2, nothing built"
p=$(profile broken <<'TOML'
[profile]
name = "broken"
[outbound]
delay = 40
TOML
)
status=0
"$BADLINK" verify "$p" --seed "${BADLINK_SEED:-20261124}" >"$WORK/broken.out" 2>"$WORK/broken.log" || status=$?
check "invalid profile: exit 2" "$status == 2"
grep -q "broken.toml:4" "$WORK/broken.log" || fail "no position given: $(cat "$WORK/broken.log")"
status=0
"$BADLINK" verify --duration 5 >/dev/null 2>&1 || status=$?
check "--duration 5: exit 2" "$status == 2"
status=0
"$BADLINK" verify --stall-budget -1 >/dev/null 2>"$WORK/budget.log" || status=$?
check "--stall-budget -1: exit 2" "$status == 2"
grep -q -- "--stall-budget must be 0..60000 ms" "$WORK/budget.log" || fail "no reason given: $(cat "$WORK/budget.log")"

say "the lie: lte.toml verified against a badlink running 35 ms, 2% loss, 4/30 Mbit/s"
lie=$(profile lie <<'TOML'
[profile]
name = "lie"
[outbound]
delay = "35ms"
jitter = "4ms"
distribution = "normal"
correlation = 0.25
loss = "2%"
rate = "4mbit"
queue_limit = "256KB"
[inbound]
delay = "25ms"
jitter = "4ms"
distribution = "normal"
correlation = 0.25
loss = "0.2%"
rate = "30mbit"
queue_limit = "750KB"
TOML
)
status=0
"$BADLINK" verify "$ROOT/profiles/lte.toml" --run-profile "$lie" --duration 10 \
  --json "$WORK/lie.json" >"$WORK/lie.out" 2>"$WORK/lie.log" &
pid=$!
BACKGROUND+=("$pid")
wait "$pid" || status=$?
cat "$WORK/lie.out"
check "a lying badlink: exit 1" "$status == 1"
grep -q '"ok": false' "$WORK/lie.json" || fail "--json says ok"
outbound=$(awk '/^outbound/ { on = 1 } /^inbound/ { on = 0 } on' "$WORK/lie.out")
for figure in "delay p50" "delay mean" "loss" "throughput"; do
  echo "$outbound" | grep -E "^  $figure +.* NO$" >/dev/null || fail "outbound $figure not caught"
done
inbound=$(awk '/^inbound/ { on = 1 } on' "$WORK/lie.out")
if echo "$inbound" | grep -E " NO$" >/dev/null; then
  # The inbound direction is honest; a failure there is a 1-in-150,000 event or a bug.
  fail "an honest inbound figure failed"
fi
check "no namespace left" "$(ip netns list | grep -c "^blv-$pid-" || true) == 0"

say "SIGINT while measuring: exit 1, the testbed removed"
status=0
"$BADLINK" verify "$ROOT/profiles/lte.toml" >"$WORK/int.out" 2>"$WORK/int.log" &
pid=$!
BACKGROUND+=("$pid")
for _ in $(seq 200); do grep -q "measuring delay" "$WORK/int.out" && break; sleep 0.1; done
grep -q "measuring delay" "$WORK/int.out" || fail "verify did not start measuring"
[ "$(ip netns list | grep -c "^blv-$pid-")" -eq 3 ] || fail "no testbed while measuring"
kill -INT "$pid"
wait "$pid" || status=$?
check "interrupted: exit 1" "$status == 1"
grep -q "interrupted" "$WORK/int.log" || fail "no reason given: $(cat "$WORK/int.log")"
check "no namespace left" "$(ip netns list | grep -c "^blv-$pid-" || true) == 0"
check "no badlink run left" "$(pgrep -fc -- "--wan blv-$pid-gs" || true) == 0"
say "passed"
